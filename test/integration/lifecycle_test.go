package integration

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/test/integration/framework"
)

// TestPendingTimeoutDenies: a request nobody decides on is denied by Janus
// itself when --pending-timeout passes.
func TestPendingTimeoutDenies(t *testing.T) {
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) { o.PendingTimeout = 2 * time.Second })
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	got := waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestDenied
	})
	c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDenied)
	if c == nil || c.Reason != "PendingTimeout" {
		t.Errorf("Denied condition %+v, want reason PendingTimeout", c)
	}
	if got.Status.Decision == nil || got.Status.Decision.User != "janus" {
		t.Errorf("decision %+v, want one by janus", got.Status.Decision)
	}
	if waited := got.Status.Decision.Time.Sub(ar.CreationTimestamp.Time); waited < 2*time.Second {
		t.Errorf("denied %s after creation, before the 2s timeout", waited)
	}
}

// TestRetentionDeletesFinishedRequests: finished requests go after
// --retention, pending ones stay.
func TestRetentionDeletesFinishedRequests(t *testing.T) {
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) { o.Retention = 2 * time.Second })
	finished := create(t, e.alice, request("dev", time.Hour, "payments"))
	pending := create(t, e.alice, request("dev", time.Hour, "payments"))
	if _, err := e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), finished.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(ctx(t), 100*time.Millisecond, 20*time.Second, true, func(c context.Context) (bool, error) {
		_, err := e.admin.JanusV1alpha1().AccessRequests().Get(c, finished.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("the withdrawn request was not deleted after the retention")
	}
	if _, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), pending.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the pending request is gone too: %v", err)
	}
}

// TestApprovedWaitsForAgent: without a connected agent an approved request
// stays Approved and says why.
func TestApprovedWaitsForAgent(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	if _, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Message == "approved; waiting for the agent of cluster dev to connect"
	})
	if got.Status.Phase != v1alpha1.AccessRequestApproved {
		t.Errorf("phase %s, want Approved", got.Status.Phase)
	}
}

func waitForRequest(t *testing.T, e *env, name string, timeout time.Duration, ok func(*v1alpha1.AccessRequest) bool) *v1alpha1.AccessRequest {
	t.Helper()
	var last *v1alpha1.AccessRequest
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, timeout, true, func(c context.Context) (bool, error) {
		got, err := e.admin.JanusV1alpha1().AccessRequests().Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = got
		return ok(got), nil
	})
	if err != nil {
		t.Fatalf("request %s never reached the expected state; last status %+v", name, last.Status)
	}
	return last
}

// waitForClosedSession waits until request name has exactly one Session
// and it is closed, and returns it.
func waitForClosedSession(t *testing.T, e *env, name string, timeout time.Duration) *v1alpha1.Session {
	t.Helper()
	var last []v1alpha1.Session
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, timeout, true, func(c context.Context) (bool, error) {
		list, err := e.admin.JanusV1alpha1().Sessions().List(c, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, name).String(),
		})
		if err != nil {
			return false, nil
		}
		last = list.Items
		return len(last) == 1 && last[0].Status.Phase == v1alpha1.SessionClosed, nil
	})
	if err != nil {
		t.Fatalf("request %s has no one closed session; its Sessions: %+v", name, last)
	}
	return &last[0]
}
