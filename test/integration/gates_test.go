package integration

import (
	"context"
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/test/integration/framework"
)

// TestDecisionsNeedApproveOnTheRequestsCluster: revoke and extend, like
// approve and deny, need verb approve on clusters/<spec.cluster>; bob, who
// approves for dev, is refused on a prod request with a 403 that names the
// permission, and the request is unchanged.
func TestDecisionsNeedApproveOnTheRequestsCluster(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	for _, approver := range []versioned.Interface{e.carol, e.erin} {
		_, err := approver.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "quorum"}, metav1.CreateOptions{})
		mustSucceed(t, "approving prod", nil, err)
	}
	active := activate(t, e, &v1alpha1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: ar.Name}})

	_, err := e.bob.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "not mine to revoke"}, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusForbidden, `"bob"`, "cannot revoke", `"approve"`, `"clusters"`, `"prod"`)
	_, err = e.bob.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "not mine to extend"}, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusForbidden, `"bob"`, "cannot extend", `"approve"`, `"clusters"`, `"prod"`)

	got, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
	mustSucceed(t, "reading the request back", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestActive || !got.Status.ExpiresAt.Equal(active.Status.ExpiresAt) || len(got.Status.Extensions) != 0 || got.Status.Decision != nil {
		t.Errorf("refused decisions changed the request: phase %s, expiresAt %v (was %v), extensions %v, decision %+v",
			got.Status.Phase, got.Status.ExpiresAt, active.Status.ExpiresAt, got.Status.Extensions, got.Status.Decision)
	}
}

// TestApproverCannotExtendOwnRequest: extending gives the requester more
// access, so an approver may not extend their own request — under their
// name or their UID — while someone else may.
func TestApproverCannotExtendOwnRequest(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.carol, request("dev", time.Hour, "payments"))
	_, err := e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "erin approving carol's request", nil, err)
	active := activate(t, e, &v1alpha1.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: ar.Name}})

	more := &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "my own"}
	_, err = e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, more, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusForbidden, `"carol"`, "cannot extend their own request")
	// The same UID under another name, with every permission, is still carol.
	carolAgain := e.server.Client(t, framework.User{Name: "carol@corp", UID: carol.UID, Groups: []string{"system:masters", "system:authenticated"}})
	_, err = carolAgain.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, more, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusForbidden, "cannot extend their own request")

	got, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
	mustSucceed(t, "reading the request back", got, err)
	if !got.Status.ExpiresAt.Equal(active.Status.ExpiresAt) || len(got.Status.Extensions) != 0 {
		t.Fatalf("a refused self-extension moved expiresAt to %v (was %v), extensions %v", got.Status.ExpiresAt, active.Status.ExpiresAt, got.Status.Extensions)
	}
	got, err = e.erin.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: 30 * time.Minute}, Reason: "carol needs longer"}, metav1.CreateOptions{})
	mustSucceed(t, "erin extending carol's request", got, err)
	if want := active.Status.ExpiresAt.Add(30 * time.Minute); !got.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("after erin's extension expiresAt = %v, want %v", got.Status.ExpiresAt, want)
	}
}

// TestStreamsNeedAnActiveRequestOfYourOwn: exec and log, and the pods and
// events reads, are refused with a
// 403 that says why on a request in every phase but Active, and to anyone
// but the requester even while it is Active.
func TestStreamsNeedAnActiveRequestOfYourOwn(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	approved := func() *v1alpha1.AccessRequest {
		ar := create(t, e.alice, request("dev", time.Hour, "payments"))
		_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
		return mustSucceed(t, "approving", ar, err)
	}
	active := func() *v1alpha1.AccessRequest {
		ar := approved()
		return activate(t, e, ar)
	}

	pending := create(t, e.alice, request("dev", time.Hour, "payments"))
	approvedAR := approved()
	revoked := active()
	_, err := e.carol.JanusV1alpha1().AccessRequests().Revoke(ctx(t), revoked.Name, &v1alpha1.Revocation{Reason: "done"}, metav1.CreateOptions{})
	mustSucceed(t, "revoking", nil, err)
	withdrawn := active()
	_, err = e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), withdrawn.Name, &v1alpha1.Withdrawal{Reason: "done"}, metav1.CreateOptions{})
	mustSucceed(t, "withdrawing", nil, err)
	expired := active()
	// The lifecycle controller's own move at expiresAt, written now.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ar, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), expired.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		ar.Status.Phase = v1alpha1.AccessRequestExpired
		_, err = e.admin.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), ar, metav1.UpdateOptions{})
		return err
	})
	mustSucceed(t, "expiring", nil, err)
	live := active()

	// The reads of pods and Events pass the same gate; their refusals say
	// what they do.
	for stream, action := range map[string]struct{ verb, noun string }{
		"exec": {"exec", "exec"}, "log": {"log", "log"},
		"pods": {"list pods", "listing pods"}, "events": {"list events", "listing events"},
	} {
		cases := []struct {
			name, request string
			as            framework.User
			want          []string
		}{
			{"a Pending request", pending.Name, alice, []string{"the request is Pending; " + action.noun + " needs an Active request"}},
			{"an Approved request", approvedAR.Name, alice, []string{"the request is Approved; " + action.noun + " needs an Active request"}},
			{"a Revoked request", revoked.Name, alice, []string{"the request is Revoked; " + action.noun + " needs an Active request"}},
			{"a Withdrawn request", withdrawn.Name, alice, []string{"the request is Withdrawn; " + action.noun + " needs an Active request"}},
			{"an Expired request", expired.Name, alice, []string{"the request is Expired; " + action.noun + " needs an Active request"}},
			// carol may approve everything, but the stream is alice's.
			{"another user's Active request", live.Name, carol, []string{`only the requester "alice" may ` + action.verb + ` under this request, not "carol"`}},
			// The same name under another UID is a re-created account.
			{"alice re-created under a new UID", live.Name, framework.User{Name: "alice", UID: "uid-alice-recreated", Groups: alice.Groups}, []string{`only the requester "alice"`}},
		}
		for _, tc := range cases {
			t.Run(stream+" on "+tc.name, func(t *testing.T) {
				err := openStream(t, e, tc.as, stream, tc.request)
				expectStatus(t, err, http.StatusForbidden, append([]string{"accessrequests/" + stream}, tc.want...)...)
			})
		}
	}
}

// openStream asks for an exec or log stream of the request as u, without
// upgrading: the gate answers before any stream is opened.
func openStream(t *testing.T, e *env, u framework.User, stream, name string) error {
	t.Helper()
	req := e.server.Client(t, u).JanusV1alpha1().RESTClient().Get().
		Resource("accessrequests").Name(name).SubResource(stream).
		Param("namespace", "payments")
	if stream != "pods" {
		req = req.Param("pod", "payments-api-0")
	}
	if stream == "exec" {
		req = req.Param("command", "sh").Param("stdout", "true")
	}
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return req.Do(c).Error()
}
