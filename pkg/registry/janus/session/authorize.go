package session

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Verbs on clusters/<name> behind the session subresources, asked of the
// (delegated) authorizer as approve is for decisions: "approve" lets
// approvers of a cluster read, attach to and terminate its sessions;
// "audit" lets auditors read its recordings.
const (
	VerbApprove = "approve"
	VerbAudit   = "audit"
)

// gate is the second gate behind RBAC's permission on a subresource.
type gate struct {
	authorizer authorizer.Authorizer
}

// user is the caller, or a 401.
func caller(ctx context.Context) (user.Info, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no authenticated user")
	}
	return u, nil
}

// isUser compares the caller with the session's user, name and UID.
func isUser(u user.Info, s *janus.Session) bool {
	return u.GetName() == s.Spec.User.Username && u.GetUID() == s.Spec.User.UID
}

// may asks whether u has verb on clusters/<cluster>.
func (g gate) may(ctx context.Context, u user.Info, verb, cluster string) (bool, string) {
	decision, reason, err := g.authorizer.Authorize(ctx, authorizer.AttributesRecord{
		User: u, Verb: verb, APIGroup: janus.GroupName, APIVersion: "*",
		Resource: "clusters", Name: cluster, ResourceRequest: true,
	})
	if err != nil {
		klog.ErrorS(err, "Authorizing a session subresource", "user", u.GetName(), "cluster", cluster, "verb", verb)
	}
	return decision == authorizer.DecisionAllow, reason
}

// forbidden names the permission that is missing.
func forbidden(subresource, name, format string, args ...any) error {
	return apierrors.NewForbidden(janus.Resource("sessions/"+subresource), name, fmt.Errorf(format, args...))
}

// needs writes the permission a refusal names: verb on clusters/<cluster>.
func needs(verb, cluster string) string {
	return fmt.Sprintf("verb %q on resource \"clusters\" in API group %q with name %q", verb, janus.GroupName, cluster)
}

// authorizeRecording lets the session's own user, the cluster's approvers
// and its auditors read a recording.
func (g gate) authorizeRecording(ctx context.Context, s *janus.Session) error {
	u, err := caller(ctx)
	if err != nil {
		return err
	}
	if isUser(u, s) {
		return nil
	}
	if ok, _ := g.may(ctx, u, VerbAudit, s.Spec.Cluster); ok {
		return nil
	}
	if ok, _ := g.may(ctx, u, VerbApprove, s.Spec.Cluster); ok {
		return nil
	}
	return forbidden("recording", s.Name, "user %q cannot read the recording of %s's session: only its user may, or whoever has %s or %s",
		u.GetName(), s.Spec.User.Username, needs(VerbAudit, s.Spec.Cluster), needs(VerbApprove, s.Spec.Cluster))
}

// authorizeApprover lets the cluster's approvers attach to or terminate
// one of its sessions; what names what they tried.
func (g gate) authorizeApprover(ctx context.Context, s *janus.Session, subresource, what string) error {
	u, err := caller(ctx)
	if err != nil {
		return err
	}
	if ok, reason := g.may(ctx, u, VerbApprove, s.Spec.Cluster); !ok {
		msg := fmt.Sprintf("user %q cannot %s sessions in cluster %q: it needs %s", u.GetName(), what, s.Spec.Cluster, needs(VerbApprove, s.Spec.Cluster))
		if reason != "" {
			msg += " (" + reason + ")"
		}
		return forbidden(subresource, s.Name, "%s", msg)
	}
	return nil
}
