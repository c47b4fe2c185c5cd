package accessrequest

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// end moves ar to a final phase, recording who decided and why.
func end(ar *janus.AccessRequest, d decisionContext, phase janus.AccessRequestPhase, reason string) error {
	return janus.EndByDecision(ar, phase, janus.Decision{User: d.user.GetName(), UID: d.user.GetUID(), Time: d.now, Reason: reason}, string(phase))
}

// denyDecision refuses a pending request.
type denyDecision struct{ authz decisionAuthorizer }

func (denyDecision) name() string                            { return "deny" }
func (denyDecision) eventReason(*janus.AccessRequest) string { return "Denied" }
func (denyDecision) kind() string                            { return "Denial" }
func (denyDecision) newBody() runtime.Object                 { return &janus.Denial{} }

func (a denyDecision) authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error {
	return a.authz.authorizeApprover(ctx, u, ar, "deny", false)
}

func (a denyDecision) validate(_ context.Context, body runtime.Object, ar *janus.AccessRequest) error {
	return invalid(a, ar.Name, validation.ValidateDenial(body.(*janus.Denial)))
}

func (denyDecision) apply(_ context.Context, d decisionContext, ar *janus.AccessRequest) error {
	if ar.Status.Phase != janus.AccessRequestPending {
		return phaseConflict(ar, "deny")
	}
	return end(ar, d, janus.AccessRequestDenied, d.body.(*janus.Denial).Reason)
}

// revokeDecision cuts an approved or active request short.
type revokeDecision struct{ authz decisionAuthorizer }

func (revokeDecision) name() string                            { return "revoke" }
func (revokeDecision) eventReason(*janus.AccessRequest) string { return "Revoked" }
func (revokeDecision) kind() string                            { return "Revocation" }
func (revokeDecision) newBody() runtime.Object                 { return &janus.Revocation{} }

func (a revokeDecision) authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error {
	return a.authz.authorizeApprover(ctx, u, ar, "revoke", false)
}

func (a revokeDecision) validate(_ context.Context, body runtime.Object, ar *janus.AccessRequest) error {
	return invalid(a, ar.Name, validation.ValidateRevocation(body.(*janus.Revocation)))
}

func (revokeDecision) apply(_ context.Context, d decisionContext, ar *janus.AccessRequest) error {
	if p := ar.Status.Phase; p != janus.AccessRequestApproved && p != janus.AccessRequestActive {
		return phaseConflict(ar, "revoke")
	}
	return end(ar, d, janus.AccessRequestRevoked, d.body.(*janus.Revocation).Reason)
}

// withdrawDecision lets the requester take their request back at any point
// before it ends.
type withdrawDecision struct{ authz decisionAuthorizer }

func (withdrawDecision) name() string                            { return "withdraw" }
func (withdrawDecision) eventReason(*janus.AccessRequest) string { return "Withdrawn" }
func (withdrawDecision) kind() string                            { return "Withdrawal" }
func (withdrawDecision) newBody() runtime.Object                 { return &janus.Withdrawal{} }

func (a withdrawDecision) authorize(_ context.Context, u user.Info, ar *janus.AccessRequest) error {
	return a.authz.authorizeRequester(u, ar, "withdraw")
}

func (a withdrawDecision) validate(_ context.Context, body runtime.Object, ar *janus.AccessRequest) error {
	return invalid(a, ar.Name, validation.ValidateWithdrawal(body.(*janus.Withdrawal)))
}

func (withdrawDecision) apply(_ context.Context, d decisionContext, ar *janus.AccessRequest) error {
	if validation.IsTerminal(ar.Status.Phase) {
		return phaseConflict(ar, "withdraw")
	}
	return end(ar, d, janus.AccessRequestWithdrawn, d.body.(*janus.Withdrawal).Reason)
}

// extendDecision moves the expiry of an active request, never past
// activatedAt + the cluster's maximum duration.
type extendDecision struct {
	authz    decisionAuthorizer
	clusters ClusterGetter
	policy   validation.Policy
}

func (extendDecision) name() string                            { return "extend" }
func (extendDecision) eventReason(*janus.AccessRequest) string { return "Extended" }
func (extendDecision) kind() string                            { return "Extension" }
func (extendDecision) newBody() runtime.Object                 { return &janus.Extension{} }

func (a extendDecision) authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error {
	return a.authz.authorizeApprover(ctx, u, ar, "extend", true)
}

func (a extendDecision) validate(_ context.Context, body runtime.Object, ar *janus.AccessRequest) error {
	return invalid(a, ar.Name, validation.ValidateExtension(body.(*janus.Extension)))
}

func (a extendDecision) apply(ctx context.Context, d decisionContext, ar *janus.AccessRequest) error {
	if ar.Status.Phase != janus.AccessRequestActive {
		return phaseConflict(ar, "extend")
	}
	cluster, err := clusterOf(ctx, a.clusters, ar)
	if err != nil {
		return err
	}
	maxDuration := a.policy.ForCluster(cluster).MaxDuration
	ext := d.body.(*janus.Extension)
	limit := ar.Status.ActivatedAt.Add(maxDuration)
	expires := ar.Status.ExpiresAt.Add(ext.Duration.Duration)
	if expires.After(limit) {
		expires = limit
	}
	if !expires.After(ar.Status.ExpiresAt.Time) {
		return apierrors.NewConflict(janus.Resource("accessrequests"), ar.Name,
			fmt.Errorf("cannot extend: the request already expires at its limit of %s after activation", maxDuration))
	}
	added := expires.Sub(ar.Status.ExpiresAt.Time)
	ar.Status.ExpiresAt = &metav1.Time{Time: expires}
	ar.Status.Extensions = append(ar.Status.Extensions, janus.Decision{
		User: d.user.GetName(), UID: d.user.GetUID(), Time: d.now, Reason: ext.Reason, Duration: &metav1.Duration{Duration: added},
	})
	ar.Status.Message = fmt.Sprintf("extended by %s by %s until %s", added.Round(time.Second), d.user.GetName(), expires.UTC().Format(time.RFC3339))
	meta.SetStatusCondition(&ar.Status.Conditions, metav1.Condition{
		Type:               janus.ConditionExtended,
		Status:             metav1.ConditionTrue,
		Reason:             "Extended",
		Message:            ar.Status.Message,
		ObservedGeneration: ar.Generation,
		LastTransitionTime: d.now,
	})
	return nil
}
