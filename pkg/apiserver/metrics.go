package apiserver

import (
	"sync/atomic"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	// The lifecycle controller's work queue and Lease report through
	// these providers into the registry /metrics serves.
	_ "k8s.io/component-base/metrics/prometheus/clientgo/leaderelection"
	_ "k8s.io/component-base/metrics/prometheus/workqueue"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	listers "github.com/infroware/janus/pkg/generated/listers/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnelserver"
	"github.com/infroware/janus/pkg/version"
)

// buildInfo is always 1; its labels say which build of janus-apiserver
// serves, so dashboards can tell replicas of different releases apart
// during an upgrade (kubernetes_build_info beside it describes the
// Kubernetes libraries, not Janus).
var buildInfo = metrics.NewGaugeVec(&metrics.GaugeOpts{
	Namespace:      "janus",
	Name:           "build_info",
	Help:           "A metric with a constant '1' value labeled by the version, commit and Go version janus-apiserver was built from.",
	StabilityLevel: metrics.ALPHA,
}, []string{"version", "commit", "go_version"})

// requestPhases counts the AccessRequests in each phase from the
// informer cache when scraped: read from storage, it cannot drift the way
// counters kept beside the writes would, and every replica reports the
// same numbers (dashboards take the max, not the sum).
var requestPhases = &phaseCollector{
	desc: metrics.NewDesc("janus_accessrequests",
		"AccessRequests by phase, as stored (every replica reports all of them).",
		[]string{"phase"}, nil, metrics.ALPHA, ""),
}

var allPhases = []v1alpha1.AccessRequestPhase{
	v1alpha1.AccessRequestPending, v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive,
	v1alpha1.AccessRequestExpired, v1alpha1.AccessRequestDenied, v1alpha1.AccessRequestWithdrawn,
	v1alpha1.AccessRequestRevoked, v1alpha1.AccessRequestFailed,
}

type phaseCollector struct {
	metrics.BaseStableCollector
	desc *metrics.Desc
	// requests is the lister of the running server's informer; nil
	// until it starts (one server per process; a test that runs several
	// in turn sees the latest).
	requests atomic.Pointer[listers.AccessRequestLister]
}

func (c *phaseCollector) DescribeWithStability(ch chan<- *metrics.Desc) { ch <- c.desc }

func (c *phaseCollector) CollectWithStability(ch chan<- metrics.Metric) {
	lister := c.requests.Load()
	if lister == nil {
		return
	}
	all, err := (*lister).List(labels.Everything())
	if err != nil {
		return
	}
	counts := make(map[v1alpha1.AccessRequestPhase]int, len(allPhases))
	for _, ar := range all {
		phase := ar.Status.Phase
		if phase == "" {
			phase = v1alpha1.AccessRequestPending
		}
		counts[phase]++
	}
	for _, phase := range allPhases {
		ch <- metrics.NewLazyConstMetric(c.desc, metrics.GaugeValue, float64(counts[phase]), string(phase))
	}
}

func init() {
	legacyregistry.MustRegister(buildInfo)
	legacyregistry.CustomMustRegister(requestPhases)
	info := version.Get()
	buildInfo.WithLabelValues(info.GitVersion, info.GitCommit, info.GoVersion).Set(1)
}

// registeredClustersHandler keeps a janus_tunnel_connected_agents series
// for every registered Cluster, 0 until its agent connects to this
// replica: an agent that never connects is then seen as disconnected
// (max over the replicas is 0), not as absent.
func registeredClustersHandler(tunnels *tunnelserver.Server) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj interface{}) {
			if c, ok := obj.(*v1alpha1.Cluster); ok {
				tunnels.RegisteredCluster(c.Name)
			}
		},
		DeleteFunc: func(obj interface{}) {
			if name, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				tunnels.UnregisteredCluster(name)
			}
		},
	}
}
