package validation

import (
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Policy holds the limits a request must stay within: the server's flags,
// tightened by the target Cluster with ForCluster.
type Policy struct {
	MinDuration        time.Duration
	MaxDuration        time.Duration
	ExcludedNamespaces sets.Set[string]
}

// ForCluster returns the policy for requests to cluster: the cluster may
// exclude more namespaces and lower the maximum duration, never loosen them.
func (p Policy) ForCluster(cluster *janus.Cluster) Policy {
	out := Policy{
		MinDuration:        p.MinDuration,
		MaxDuration:        p.MaxDuration,
		ExcludedNamespaces: sets.New[string](cluster.Spec.ExcludedNamespaces...).Union(p.ExcludedNamespaces),
	}
	if max := cluster.Spec.MaxDuration; max != nil && max.Duration > 0 && max.Duration < out.MaxDuration {
		out.MaxDuration = max.Duration
	}
	return out
}

// RequiredApprovals is the number of distinct approvers a request for the
// cluster needs.
func RequiredApprovals(cluster *janus.Cluster) int {
	if cluster.Spec.Approval.Required < 1 {
		return 1
	}
	return int(cluster.Spec.Approval.Required)
}
