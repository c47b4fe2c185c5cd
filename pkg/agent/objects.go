package agent

import (
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/tunnel"
)

const (
	// RequestLabel names the AccessRequest an object in the target cluster
	// was created for. Remove and Reconcile find a grant's objects by it.
	RequestLabel = "janus.infroware.io/request"
	// RequesterAnnotation records who asked, for the target cluster's own
	// administrators and audit log.
	RequesterAnnotation = "janus.infroware.io/requester"
	// ManagedByLabel with the value ManagedBy marks every object the agent
	// owns; an object without it is never updated or deleted.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedBy      = "janus"
)

// GrantClusterRole is the ClusterRole, shipped in artifacts/agent/rbac.yaml,
// that every grant binds in each namespace it covers. Binding one shared
// role instead of creating a Role per request spares every grant RBAC's
// escalation check: the agent holds "bind" on this one ClusterRole, so
// kube-apiserver authorizes the RoleBinding without resolving all of the
// agent's own rules, and the agent itself needs none of the grant rules.
const GrantClusterRole = "janus-grant"

// grantName names the ServiceAccount and RoleBindings of a request.
func grantName(request string) string { return "janus-" + request }

// GrantRules are the only permissions a grant gives, in each namespace it
// covers: find a pod, exec into it, read its logs and events. The
// ClusterRole GrantClusterRole in artifacts/agent/rbac.yaml must hold
// exactly these; the agent checks that it does before it binds it.
func GrantRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}},
		{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}},
		{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"list"}},
	}
}

// permissions spells rules out as one string per permission they give,
// "group/resource verb" (with " name" when the rule names its objects, and
// "url verb" for non-resource URLs), so that two lists of rules can be
// compared by what they allow rather than how they are written. A
// wildcard stays a "*" and so equals nothing but another wildcard.
func permissions(rules []rbacv1.PolicyRule) sets.Set[string] {
	out := sets.New[string]()
	for _, r := range rules {
		for _, v := range r.Verbs {
			for _, u := range r.NonResourceURLs {
				out.Insert(fmt.Sprintf("%s %s", u, v))
			}
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					if len(r.ResourceNames) == 0 {
						out.Insert(fmt.Sprintf("%s/%s %s", g, res, v))
					}
					for _, name := range r.ResourceNames {
						out.Insert(fmt.Sprintf("%s/%s %s %s", g, res, v, name))
					}
				}
			}
		}
	}
	return out
}

// grantSelector selects the objects of one request.
func grantSelector(request string) string {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedBy, RequestLabel: request}).String()
}

// anyGrantSelector selects the objects of every request.
func anyGrantSelector() string {
	return ManagedByLabel + "=" + ManagedBy + "," + RequestLabel
}

func grantObjectMeta(spec tunnel.GrantSpec, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:        grantName(spec.Request),
		Namespace:   namespace,
		Labels:      map[string]string{ManagedByLabel: ManagedBy, RequestLabel: spec.Request},
		Annotations: map[string]string{RequesterAnnotation: spec.Requester},
	}
}

// ownedBy is true when the agent created obj for request, and so may change
// or delete it.
func ownedBy(obj metav1.Object, request string) bool {
	l := obj.GetLabels()
	return l[ManagedByLabel] == ManagedBy && l[RequestLabel] == request
}

// adoptMeta puts the labels and annotations of want on have, keeping any
// others someone added.
func adoptMeta(have, want metav1.Object) {
	l := have.GetLabels()
	if l == nil {
		l = map[string]string{}
	}
	maps.Copy(l, want.GetLabels())
	have.SetLabels(l)
	a := have.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	maps.Copy(a, want.GetAnnotations())
	have.SetAnnotations(a)
}

// grantServiceAccount is the identity of one request. Nothing runs as it:
// its token is minted by TokenRequest, so no pod may mount it.
func grantServiceAccount(spec tunnel.GrantSpec, namespace string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		ObjectMeta:                   grantObjectMeta(spec, namespace),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// grantRoleBinding gives the request's ServiceAccount the grant rules in
// namespace. It is a RoleBinding of the ClusterRole, so the rules hold in
// that namespace only.
func grantRoleBinding(spec tunnel.GrantSpec, namespace, serviceAccountNamespace string) *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: grantObjectMeta(spec, namespace),
		Subjects: []rbacv1.Subject{{
			Kind:      rbacv1.ServiceAccountKind,
			Namespace: serviceAccountNamespace,
			Name:      grantName(spec.Request),
		}},
		RoleRef: rbacv1.RoleRef{
			APIGroup: rbacv1.GroupName,
			Kind:     "ClusterRole",
			Name:     GrantClusterRole,
		},
	}
}

func updateServiceAccount(have, want *corev1.ServiceAccount) (*corev1.ServiceAccount, bool) {
	adoptMeta(have, want)
	have.AutomountServiceAccountToken = want.AutomountServiceAccountToken
	return have, true
}

// updateRoleBinding cannot change a roleRef, which is immutable: then the
// binding must be created anew.
func updateRoleBinding(have, want *rbacv1.RoleBinding) (*rbacv1.RoleBinding, bool) {
	if have.RoleRef != want.RoleRef {
		return nil, false
	}
	adoptMeta(have, want)
	have.Subjects = want.Subjects
	return have, true
}
