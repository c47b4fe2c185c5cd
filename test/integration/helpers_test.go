package integration

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/test/integration/framework"
)

var (
	admin = framework.User{Name: "admin", Groups: []string{"system:masters", "system:authenticated"}}
	alice = framework.User{Name: "alice", UID: "uid-alice", Groups: []string{"engineers", "system:authenticated"}, Extra: map[string][]string{"scopes": {"openid"}}}
	bob   = framework.User{Name: "bob", UID: "uid-bob", Groups: []string{"system:authenticated"}}
	carol = framework.User{Name: "carol", UID: "uid-carol", Groups: []string{"system:authenticated"}}
	erin  = framework.User{Name: "erin", UID: "uid-erin", Groups: []string{"system:authenticated"}}
	dave  = framework.User{Name: "dave", UID: "uid-dave", Groups: []string{"system:authenticated"}}
)

// demoBindings are the playground's people: alice requests, bob approves for
// dev only, carol and erin approve everywhere, dave has no Janus role.
var demoBindings = framework.Bindings{
	"alice": {Roles: []string{"janus-requester"}},
	"bob":   {Roles: []string{"janus-approver-for-dev"}},
	"carol": {Roles: []string{"janus-approver"}},
	"erin":  {Roles: []string{"janus-approver"}},
	"dave":  {Rules: []rbacv1.PolicyRule{}},
}

// env is one server with the demo clusters registered and a client per person.
type env struct {
	server                               *framework.Server
	admin, alice, bob, carol, erin, dave versioned.Interface
}

func newEnv(t *testing.T, backend framework.Backend, opts ...framework.Option) *env {
	t.Helper()
	s := framework.StartServer(t, backend, framework.AuthorizerFromArtifacts(t, demoBindings), opts...)
	e := &env{
		server: s,
		admin:  s.Client(t, admin),
		alice:  s.Client(t, alice),
		bob:    s.Client(t, bob),
		carol:  s.Client(t, carol),
		erin:   s.Client(t, erin),
		dave:   s.Client(t, dave),
	}
	twoHours := metav1.Duration{Duration: 2 * time.Hour}
	for _, c := range []*v1alpha1.Cluster{
		{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: v1alpha1.ClusterSpec{DisplayName: "Development", ExcludedNamespaces: []string{"vault"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "prod"}, Spec: v1alpha1.ClusterSpec{DisplayName: "Production", MaxDuration: &twoHours, Approval: v1alpha1.ApprovalPolicy{Required: 2}}},
	} {
		if _, err := e.admin.JanusV1alpha1().Clusters().Create(context.Background(), c, metav1.CreateOptions{}); err != nil {
			t.Fatalf("registering cluster %s: %v", c.Name, err)
		}
	}
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func request(cluster string, duration time.Duration, namespaces ...string) *v1alpha1.AccessRequest {
	return &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-"},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster:    cluster,
			Namespaces: namespaces,
			Duration:   metav1.Duration{Duration: duration},
			Reason:     "INC-1234: payments 5xx",
		},
	}
}

// create makes a request as c and fails the test if that is refused.
func create(t *testing.T, c versioned.Interface, ar *v1alpha1.AccessRequest) *v1alpha1.AccessRequest {
	t.Helper()
	out, err := c.JanusV1alpha1().AccessRequests().Create(ctx(t), ar, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating access request: %v", err)
	}
	return out
}

func mustSucceed(t *testing.T, what string, ar *v1alpha1.AccessRequest, err error) *v1alpha1.AccessRequest {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return ar
}

// expectStatus asserts err is a Kubernetes Status error with the code and a
// message that contains each of the fragments.
func expectStatus(t *testing.T, err error, code int32, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected HTTP %d, got success", code)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("expected a Kubernetes Status error with HTTP %d, got %T: %v", code, err, err)
	}
	if got := status.Status().Code; got != code {
		t.Fatalf("expected HTTP %d, got %d: %v", code, got, err)
	}
	for _, f := range fragments {
		if !strings.Contains(status.Status().Message, f) {
			t.Errorf("message %q does not mention %q", status.Status().Message, f)
		}
	}
}

// expectInvalidFields asserts a 422 whose causes name exactly the fields.
func expectInvalidFields(t *testing.T, err error, fields ...string) {
	t.Helper()
	expectStatus(t, err, 422)
	var status apierrors.APIStatus
	errors.As(err, &status)
	var got []string
	if d := status.Status().Details; d != nil {
		for _, c := range d.Causes {
			got = append(got, c.Field)
		}
	}
	for _, f := range fields {
		found := false
		for _, g := range got {
			if g == f {
				found = true
			}
		}
		if !found {
			t.Errorf("422 does not name field %q; causes name %v (%v)", f, got, err)
		}
	}
}

func countRequests(t *testing.T, c versioned.Interface) int {
	t.Helper()
	list, err := c.JanusV1alpha1().AccessRequests().List(ctx(t), metav1.ListOptions{})
	if err != nil {
		t.Fatalf("listing requests: %v", err)
	}
	return len(list.Items)
}

// activate stands in for the lifecycle controller (a later issue): Janus
// itself moves an Approved request to Active through the status subresource.
func activate(t *testing.T, e *env, ar *v1alpha1.AccessRequest) *v1alpha1.AccessRequest {
	t.Helper()
	var out *v1alpha1.AccessRequest
	// The lifecycle controller notes on the request that no agent is
	// connected, so the write may race with it.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.NewTime(time.Now().Truncate(time.Second))
		current.Status.Phase = v1alpha1.AccessRequestActive
		current.Status.ActivatedAt = &now
		expires := metav1.NewTime(now.Add(current.Status.GrantedDuration.Duration))
		current.Status.ExpiresAt = &expires
		out, err = e.admin.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), current, metav1.UpdateOptions{})
		return err
	})
	return mustSucceed(t, "activating", out, err)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
