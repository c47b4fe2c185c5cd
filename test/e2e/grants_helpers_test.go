package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

const requestLabel = "janus.infroware.io/request"

func janusAs(t testing.TB, user string) versioned.Interface {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func devCluster(t testing.TB) kubernetes.Interface {
	t.Helper()
	target := bed.Target("dev")
	if target == nil {
		t.Fatal("the testbed has no target cluster dev")
	}
	c, err := target.Client()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newRequest creates a request as alice and returns its name.
func newRequest(t testing.TB, duration time.Duration, namespaces ...string) *v1alpha1.AccessRequest {
	t.Helper()
	ar, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Create(bg(t), &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "grant-"},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "dev", Namespaces: namespaces, Duration: metav1.Duration{Duration: duration}, Reason: "e2e grants",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("alice creating a request: %v", err)
	}
	return ar
}

func approveAs(t testing.TB, user, name string) {
	t.Helper()
	if _, err := janusAs(t, user).JanusV1alpha1().AccessRequests().Approve(bg(t), name, &v1alpha1.Approval{Reason: "e2e"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("%s approving %s: %v", user, name, err)
	}
}

// waitForPhase polls the request until it reaches phase.
func waitForPhase(t testing.TB, name string, phase v1alpha1.AccessRequestPhase, timeout time.Duration) *v1alpha1.AccessRequest {
	t.Helper()
	client := janusAs(t, "admin")
	var last *v1alpha1.AccessRequest
	err := wait.PollUntilContextTimeout(bg(t), 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ar, err := client.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = ar
		return ar.Status.Phase == phase, nil
	})
	if err != nil {
		t.Fatalf("request %s did not reach %s within %s; last status: %+v", name, phase, timeout, last.Status)
	}
	return last
}

// grantObjects lists what the agent made for a request in the target:
// kind/namespace/name, and for a RoleBinding the kind/name of the role it
// binds.
func grantObjects(t testing.TB, name string) []string {
	t.Helper()
	c := devCluster(t)
	sel := metav1.ListOptions{LabelSelector: requestLabel + "=" + name}
	var out []string
	sas, err := c.CoreV1().ServiceAccounts("").List(bg(t), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range sas.Items {
		out = append(out, "serviceaccount/"+o.Namespace+"/"+o.Name)
	}
	bindings, err := c.RbacV1().RoleBindings("").List(bg(t), sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range bindings.Items {
		out = append(out, "rolebinding/"+o.Namespace+"/"+o.Name+" "+o.RoleRef.Kind+"/"+o.RoleRef.Name)
	}
	return out
}

func waitForNoGrant(t testing.TB, name string, timeout time.Duration) {
	t.Helper()
	var last []string
	err := wait.PollUntilContextTimeout(bg(t), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		last = grantObjects(t, name)
		return len(last) == 0, nil
	})
	if err != nil {
		t.Fatalf("the grant of %s is still in the target after %s: %v", name, timeout, last)
	}
}

// canI asks the target's authorizer whether the request's ServiceAccount
// may do verb on resource/subresource in namespace.
func canI(t testing.TB, name, verb, namespace, resource, subresource string) bool {
	t.Helper()
	review, err := devCluster(t).AuthorizationV1().SubjectAccessReviews().Create(bg(t), &authorizationv1.SubjectAccessReview{
		Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   fmt.Sprintf("system:serviceaccount:janus:janus-%s", name),
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:janus", "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: namespace, Verb: verb, Resource: resource, Subresource: subresource,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return review.Status.Allowed
}

func hasObject(objs []string, prefix string) bool {
	for _, o := range objs {
		if strings.HasPrefix(o, prefix) {
			return true
		}
	}
	return false
}
