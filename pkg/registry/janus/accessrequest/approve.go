package accessrequest

import (
	"context"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// approveDecision adds one approval; the request becomes Approved once the
// cluster's quorum of distinct approvers is reached.
type approveDecision struct {
	authz    decisionAuthorizer
	clusters ClusterGetter
	policy   validation.Policy
}

func (approveDecision) name() string { return "approve" }

// eventReason tells an approval that completed the quorum from one that
// is still waiting for others.
func (approveDecision) eventReason(ar *janus.AccessRequest) string {
	if ar.Status.Phase == janus.AccessRequestPending {
		return "ApprovalRecorded"
	}
	return "Approved"
}
func (approveDecision) kind() string            { return "Approval" }
func (approveDecision) newBody() runtime.Object { return &janus.Approval{} }

func (a approveDecision) authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error {
	return a.authz.authorizeApprover(ctx, u, ar, "approve", true)
}

func (a approveDecision) validate(ctx context.Context, body runtime.Object, ar *janus.AccessRequest) error {
	cluster, err := clusterOf(ctx, a.clusters, ar)
	if err != nil {
		return err
	}
	return invalid(a, ar.Name, validation.ValidateApproval(body.(*janus.Approval), a.policy.ForCluster(cluster)))
}

func (a approveDecision) apply(ctx context.Context, d decisionContext, ar *janus.AccessRequest) error {
	if ar.Status.Phase != janus.AccessRequestPending {
		return phaseConflict(ar, "approve")
	}
	approver, uid := d.user.GetName(), d.user.GetUID()
	if slices.ContainsFunc(ar.Status.Approvals, func(prev janus.Decision) bool { return validation.SameDecider(prev, approver, uid) }) {
		return apierrors.NewConflict(janus.Resource("accessrequests"), ar.Name,
			fmt.Errorf("%q (or their UID) has already approved this request; another approver is needed", approver))
	}
	cluster, err := clusterOf(ctx, a.clusters, ar)
	if err != nil {
		return err
	}
	approval := d.body.(*janus.Approval)
	ar.Status.Approvals = append(ar.Status.Approvals, janus.Decision{
		User: approver, UID: uid, Time: d.now, Reason: approval.Reason, Duration: approval.Duration,
	})

	required := requiredApprovals(ar, cluster)
	if got := validation.DistinctApprovers(ar.Status.Approvals); got < required {
		ar.Status.Message = fmt.Sprintf("%d of %d approvals", got, required)
		return nil
	}
	granted := grantedDuration(ar)
	ar.Status.Phase = janus.AccessRequestApproved
	ar.Status.GrantedDuration = &granted
	ar.Status.Message = fmt.Sprintf("approved by %s for %s; waiting for the grant in cluster %s", approvers(ar), granted.Duration, ar.Spec.Cluster)
	meta.SetStatusCondition(&ar.Status.Conditions, metav1.Condition{
		Type:               janus.ConditionApproved,
		Status:             metav1.ConditionTrue,
		Reason:             "Approved",
		Message:            fmt.Sprintf("approved by %s", approvers(ar)),
		ObservedGeneration: ar.Generation,
		LastTransitionTime: d.now,
	})
	return nil
}

// requiredApprovals is the quorum fixed when the request was created. A
// request from before that was recorded takes its Cluster's current policy.
func requiredApprovals(ar *janus.AccessRequest, cluster *janus.Cluster) int {
	if ar.Status.RequiredApprovals > 0 {
		return int(ar.Status.RequiredApprovals)
	}
	return validation.RequiredApprovals(cluster)
}

// grantedDuration is the requested duration, or the shortest duration any
// approver set: each approver agreed to at most that much.
func grantedDuration(ar *janus.AccessRequest) metav1.Duration {
	granted := ar.Spec.Duration
	for _, a := range ar.Status.Approvals {
		if a.Duration != nil && a.Duration.Duration < granted.Duration {
			granted = *a.Duration
		}
	}
	return granted
}

func approvers(ar *janus.AccessRequest) string {
	names := make([]string, 0, len(ar.Status.Approvals))
	for _, a := range ar.Status.Approvals {
		names = append(names, a.User)
	}
	return joinNames(names)
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := names[0]
	for _, n := range names[1 : len(names)-1] {
		out += ", " + n
	}
	return out + " and " + names[len(names)-1]
}
