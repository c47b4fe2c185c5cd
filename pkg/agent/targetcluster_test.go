package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/infroware/janus/internal/testenv"
)

// pollTimeout bounds every wait for the target cluster to catch up (its
// RBAC and ServiceAccount caches).
const pollTimeout = 30 * time.Second

// target is one etcd and kube-apiserver for the whole package, started by
// the first test that needs it and stopped by TestMain. Tests keep apart by
// using their own namespaces and request names.
var target = &testenv.PackageCluster{Name: "target cluster"}

func TestMain(m *testing.M) { target.Main(m.Run) }

// targetCluster returns the package's running target cluster, with the
// ClusterRole janus-grant as rbac.yaml ships it, whatever an earlier test
// did to it.
func targetCluster(t *testing.T) *testenv.BareCluster {
	t.Helper()
	c := target.Get(t)
	applyGrantClusterRole(t, t.Context(), c)
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace creates a namespace named prefix-xxxxx.
func newNamespace(t *testing.T, ctx context.Context, client kubernetes.Interface, prefix string) string {
	t.Helper()
	ns, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return ns.Name
}

func newRequestName(prefix string) string {
	return prefix + "-" + utilrand.String(6)
}

// newTestProvisioner returns a provisioner working as the cluster's admin,
// with an agent namespace of its own.
func newTestProvisioner(t *testing.T, ctx context.Context, c *testenv.BareCluster, excluded ...string) (*Provisioner, string) {
	t.Helper()
	agentNamespace := newNamespace(t, ctx, c.Admin, "agent")
	return NewProvisioner(c.Admin, agentNamespace, append(excluded, DefaultExcludedNamespaces...)), agentNamespace
}

// grantObjects are the objects labelled for one request, as the admin sees
// them.
type grantObjects struct {
	serviceAccounts []corev1.ServiceAccount
	roleBindings    []rbacv1.RoleBinding
}

func (g grantObjects) empty() bool {
	return len(g.serviceAccounts)+len(g.roleBindings) == 0
}

func (g grantObjects) String() string {
	var names []string
	for _, sa := range g.serviceAccounts {
		names = append(names, "serviceaccount "+sa.Namespace+"/"+sa.Name)
	}
	for _, b := range g.roleBindings {
		names = append(names, "rolebinding "+b.Namespace+"/"+b.Name)
	}
	return "[" + strings.Join(names, ", ") + "]"
}

func listGrantObjects(t *testing.T, ctx context.Context, client kubernetes.Interface, request string) grantObjects {
	t.Helper()
	opts := metav1.ListOptions{LabelSelector: RequestLabel + "=" + request}
	sas, err := client.CoreV1().ServiceAccounts(metav1.NamespaceAll).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	bindings, err := client.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	return grantObjects{serviceAccounts: sas.Items, roleBindings: bindings.Items}
}

func requireNoGrantObjects(t *testing.T, ctx context.Context, client kubernetes.Interface, request string) {
	t.Helper()
	if objs := listGrantObjects(t, ctx, client, request); !objs.empty() {
		t.Errorf("objects of %s left in the cluster: %v", request, objs)
	}
}

// waitFor polls condition until it is true, and fails the test after
// pollTimeout. condition's error is reported as the last state.
func waitFor(t *testing.T, ctx context.Context, what string, condition func(ctx context.Context) (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, pollTimeout, true, func(ctx context.Context) (bool, error) {
		ok, err := condition(ctx)
		last = err
		return ok, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last: %v)", what, err, last)
	}
}

// whoAmI is the user the client authenticates as.
func whoAmI(ctx context.Context, client kubernetes.Interface) (string, error) {
	review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return review.Status.UserInfo.Username, nil
}

// waitUntilAuthenticatesAs waits until the client's credentials are
// accepted (a new ServiceAccount reaches the API server's cache a moment
// after it is created) and checks who they belong to.
func waitUntilAuthenticatesAs(t *testing.T, ctx context.Context, client kubernetes.Interface, want string) {
	t.Helper()
	var got string
	waitFor(t, ctx, "the token to authenticate", func(ctx context.Context) (bool, error) {
		var err error
		got, err = whoAmI(ctx, client)
		return err == nil, err
	})
	if got != want {
		t.Fatalf("token authenticates as %q, want %q", got, want)
	}
}

// access is one thing a user may or may not do.
type access struct {
	verb, group, resource, subresource, namespace, name string
}

func (a access) String() string {
	r := a.resource
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	if a.group != "" {
		r += "." + a.group
	}
	return fmt.Sprintf("%s %s in %q", a.verb, r, a.namespace)
}

// canI asks the API server whether the client's user may do a.
func canI(ctx context.Context, client kubernetes.Interface, a access) (bool, error) {
	review, err := client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace, Name: a.name,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return review.Status.Allowed, nil
}

// requireAccess waits until every allowed access is granted (RBAC's cache
// catches up with new bindings), and then checks that none of the denied
// ones is.
func requireAccess(t *testing.T, ctx context.Context, client kubernetes.Interface, allowed, denied []access) {
	t.Helper()
	for _, a := range allowed {
		waitFor(t, ctx, "permission to "+a.String(), func(ctx context.Context) (bool, error) {
			return canI(ctx, client, a)
		})
	}
	for _, a := range denied {
		ok, err := canI(ctx, client, a)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			t.Errorf("may %s, must not", a)
		}
	}
}

// serviceAccountToken mints a token of a ServiceAccount as the admin.
func serviceAccountToken(t *testing.T, ctx context.Context, c *testenv.BareCluster, namespace, name string) string {
	t.Helper()
	tr, err := c.Admin.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("minting a token for %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

func clientForToken(t *testing.T, c *testenv.BareCluster, token string) kubernetes.Interface {
	t.Helper()
	client, err := kubernetes.NewForConfig(c.ConfigForToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// removeOnCleanup removes the request's grant when the test ends, as the
// admin, so that later tests see a clean cluster.
func removeOnCleanup(t *testing.T, c *testenv.BareCluster, agentNamespace string, requests ...string) {
	t.Cleanup(func() {
		p := NewProvisioner(c.Admin, agentNamespace, nil)
		for _, r := range requests {
			if err := p.Remove(context.Background(), r); err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("cleaning up %s: %v", r, err)
			}
		}
	})
}
