package accessrequest

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
)

// VerbApprove is the verb, on clusters/<name>, that lets a user decide on
// requests for that cluster: approve, deny, revoke and extend.
const VerbApprove = "approve"

// decisionAuthorizer is the second gate behind RBAC's create on the
// subresource: like CSR approval's "approve" on signers/<name>, it asks the
// (delegated) authorizer whether the caller may decide for the cluster.
type decisionAuthorizer struct {
	authorizer        authorizer.Authorizer
	allowSelfApproval bool
}

// authorizeApprover allows user to approve, deny, revoke or extend ar.
// grantsAccess marks decisions that give the requester more access (approve,
// extend), which the requester may never take on their own request.
func (d decisionAuthorizer) authorizeApprover(ctx context.Context, u user.Info, ar *janus.AccessRequest, verb string, grantsAccess bool) error {
	cluster := ar.Spec.Cluster
	attrs := authorizer.AttributesRecord{
		User:            u,
		Verb:            VerbApprove,
		APIGroup:        janus.GroupName,
		APIVersion:      "*",
		Resource:        "clusters",
		Name:            cluster,
		ResourceRequest: true,
	}
	decision, reason, err := d.authorizer.Authorize(ctx, attrs)
	if err != nil {
		klog.ErrorS(err, "Authorizing decision", "request", ar.Name, "user", u.GetName(), "cluster", cluster, "verb", verb)
	}
	if decision != authorizer.DecisionAllow {
		msg := fmt.Sprintf("user %q cannot %s access to cluster %q: it needs verb %q on resource \"clusters\" in API group %q with name %q",
			u.GetName(), verb, cluster, VerbApprove, janus.GroupName, cluster)
		if reason != "" {
			msg += " (" + reason + ")"
		}
		return apierrors.NewForbidden(janus.Resource("accessrequests"), ar.Name, fmt.Errorf("%s", msg))
	}
	if grantsAccess && !d.allowSelfApproval && mightBeRequester(u, ar) {
		return apierrors.NewForbidden(janus.Resource("accessrequests"), ar.Name,
			fmt.Errorf("user %q cannot %s their own request: someone else must decide", u.GetName(), verb))
	}
	return nil
}

// authorizeRequester allows only the user who created ar.
func (decisionAuthorizer) authorizeRequester(u user.Info, ar *janus.AccessRequest, verb string) error {
	if !isRequester(u, ar) {
		return apierrors.NewForbidden(janus.Resource("accessrequests"), ar.Name,
			fmt.Errorf("only the requester %q can %s this request, not %q", ar.Spec.Requester.Username, verb, u.GetName()))
	}
	return nil
}

// mightBeRequester errs on the side of refusing: the same username, or the
// same UID under another name, is treated as the requester.
func mightBeRequester(u user.Info, ar *janus.AccessRequest) bool {
	r := ar.Spec.Requester
	return u.GetName() == r.Username || (r.UID != "" && u.GetUID() == r.UID)
}

// isRequester compares the caller with the identity stamped at creation. The
// UID takes part so a re-created account with the same name is someone else.
func isRequester(u user.Info, ar *janus.AccessRequest) bool {
	return u.GetName() == ar.Spec.Requester.Username && u.GetUID() == ar.Spec.Requester.UID
}
