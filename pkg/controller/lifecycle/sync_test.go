package lifecycle

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stesting "k8s.io/client-go/testing"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

var accessRequests = schema.GroupResource{Group: v1alpha1.SchemeGroupVersion.Group, Resource: "accessrequests"}

func TestSyncOfAGoneRequestForgetsItsGrant(t *testing.T) {
	h := newHarness(t, Options{})
	h.c.provisioned.set("gone", start)
	if err := h.sync("gone"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if _, ok := h.c.provisioned.get("gone"); ok {
		t.Errorf("the expiry of a request that is gone is still remembered")
	}
	if w := h.statusWrites(); len(w) != 0 {
		t.Errorf("wrote %d statuses for a request that is gone", len(w))
	}
}

func TestSyncApprovedGrantsAndActivates(t *testing.T) {
	for _, tc := range []struct {
		name        string
		granted     *metav1.Duration
		now         time.Time
		wantExpires time.Time
	}{
		{name: "for the requested duration", now: start, wantExpires: start.Add(time.Hour)},
		{name: "for the approved duration", granted: &metav1.Duration{Duration: 20 * time.Minute}, now: start, wantExpires: start.Add(20 * time.Minute)},
		{name: "from the second the API can store", now: start.Add(700 * time.Millisecond), wantExpires: start.Add(time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar := approvedRequest("r1")
			ar.Status.GrantedDuration = tc.granted
			h := newHarness(t, Options{}, ar)
			h.stepTo(tc.now)
			agent := h.agents.connect("dev")

			if err := h.sync("r1"); err != nil {
				t.Fatalf("sync: %v", err)
			}

			want := tunnel.GrantSpec{Request: "r1", Requester: "alice", Namespaces: []string{"payments"}, ExpiresAt: tc.wantExpires}
			if len(agent.ensured) != 1 || !equalSpec(agent.ensured[0], want) {
				t.Fatalf("grants asked for %+v, want one %+v", agent.ensured, want)
			}
			got := h.stored("r1")
			if got.Status.Phase != v1alpha1.AccessRequestActive {
				t.Errorf("phase %s, want Active", got.Status.Phase)
			}
			if got.Status.ActivatedAt == nil || !got.Status.ActivatedAt.Time.Equal(start) {
				t.Errorf("activatedAt %v, want %v", got.Status.ActivatedAt, start)
			}
			if got.Status.ExpiresAt == nil || !got.Status.ExpiresAt.Time.Equal(tc.wantExpires) {
				t.Errorf("expiresAt %v, want %v", got.Status.ExpiresAt, tc.wantExpires)
			}
			if len(got.Status.Grants) != 1 || got.Status.Grants[0].Namespace != "payments" {
				t.Errorf("grants %+v, want the agent's one for payments", got.Status.Grants)
			}
			if p := provisioned(got); p != "True/Granted" {
				t.Errorf("Provisioned %s, want True/Granted", p)
			}
			if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Provisioned Access granted in cluster dev, namespaces payments, until ") {
				t.Errorf("events %q, want one Provisioned", ev)
			}
			if remembered, _ := h.c.provisioned.get("r1"); !remembered.Equal(tc.wantExpires) {
				t.Errorf("remembered expiry %v, want %v", remembered, tc.wantExpires)
			}
			h.waitArmed(tc.wantExpires)
		})
	}
}

func TestApprovedWaitsForAgent(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("r1"))
	if err := h.sync("r1"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	got := h.stored("r1")
	if got.Status.Phase != v1alpha1.AccessRequestApproved || got.Status.Message != "approved; waiting for the agent of cluster dev to connect" {
		t.Errorf("phase %s, message %q: want Approved, waiting for the agent", got.Status.Phase, got.Status.Message)
	}
	// The message is written once, not on every sync.
	h.cached("r1", func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Message == got.Status.Message })
	if err := h.sync("r1"); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	if w := h.statusWrites(); len(w) != 1 {
		t.Errorf("%d status writes, want 1", len(w))
	}
}

func TestGrantFailureMarksFailed(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("r1"))
	agent := h.agents.connect("dev")
	agent.ensureErr = &tunnelserver.AgentError{StatusCode: 422, Message: "namespace payments does not exist"}

	if err := h.sync("r1"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	got := h.stored("r1")
	want := "granting access in cluster dev failed: namespace payments does not exist"
	if got.Status.Phase != v1alpha1.AccessRequestFailed || got.Status.Message != want {
		t.Errorf("phase %s, message %q: want Failed, %q", got.Status.Phase, got.Status.Message, want)
	}
	if p := provisioned(got); p != "False/GrantFailed" {
		t.Errorf("Provisioned %s, want False/GrantFailed", p)
	}
	if ev := h.events(); len(ev) != 1 || ev[0] != "Warning GrantFailed "+want {
		t.Errorf("events %q, want the GrantFailed warning", ev)
	}
	if _, ok := h.c.provisioned.get("r1"); ok {
		t.Errorf("a failed grant's expiry is remembered")
	}
}

func TestGrantTransportErrorIsRetried(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("r1"))
	h.agents.connect("dev").ensureErr = errAgentDown

	err := h.sync("r1")
	if !errors.Is(err, errAgentDown) {
		t.Fatalf("sync error %v, want the agent's, to be retried", err)
	}
	if w := h.statusWrites(); len(w) != 0 {
		t.Errorf("wrote %d statuses; a request whose agent did not answer stays as it is", len(w))
	}
}

// TestStatusConflictAfterGrantKeepsGrantWhenStillWanted: when the Active
// status cannot be written after the grant was made, the grant stays if
// the request, read afresh, may still hold it, and goes otherwise.
func TestStatusConflictAfterGrantKeepsGrantWhenStillWanted(t *testing.T) {
	conflict := apierrors.NewConflict(accessRequests, "r1", errors.New("the object has been modified"))
	internal := apierrors.NewInternalError(errors.New("etcd is down"))
	for _, tc := range []struct {
		name       string
		writeErr   error
		latest     *v1alpha1.AccessRequest
		getErr     error
		wantErr    error
		wantRemove bool
	}{
		{name: "conflict, still approved", writeErr: conflict, latest: approvedRequest("r1"), wantErr: errConflict},
		{name: "conflict, active meanwhile", writeErr: conflict, latest: activeRequest("r1", start.Add(time.Hour)), wantErr: errConflict},
		{name: "conflict, unreadable", writeErr: conflict, getErr: internal, wantErr: errConflict},
		{name: "conflict, withdrawn meanwhile", writeErr: conflict, latest: finishedRequest("r1", v1alpha1.AccessRequestWithdrawn, start, false), wantErr: errConflict, wantRemove: true},
		{name: "conflict, revoked meanwhile", writeErr: conflict, latest: finishedRequest("r1", v1alpha1.AccessRequestRevoked, start, false), wantErr: errConflict, wantRemove: true},
		{name: "conflict, deleted meanwhile", writeErr: conflict, latest: deleted(approvedRequest("r1"), "carol"), wantErr: errConflict, wantRemove: true},
		{name: "conflict, gone", writeErr: conflict, getErr: apierrors.NewNotFound(accessRequests, "r1"), wantErr: errConflict, wantRemove: true},
		{name: "write error, still approved", writeErr: internal, latest: approvedRequest("r1"), wantErr: internal},
		{name: "write error, withdrawn meanwhile", writeErr: internal, latest: finishedRequest("r1", v1alpha1.AccessRequestWithdrawn, start, false), wantErr: internal, wantRemove: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{}, approvedRequest("r1"))
			agent := h.agents.connect("dev")
			h.failStatusWrites(tc.writeErr)
			h.client.PrependReactor("get", "accessrequests", func(k8stesting.Action) (bool, runtime.Object, error) {
				if tc.getErr != nil {
					return true, nil, tc.getErr
				}
				return true, tc.latest, nil
			})

			err := h.sync("r1")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("sync error %v, want %v", err, tc.wantErr)
			}
			if got := agent.callsOf(); !slices.Equal(got, wantCalls(tc.wantRemove)) {
				t.Errorf("agent calls %q, want %q", got, wantCalls(tc.wantRemove))
			}
			if _, ok := h.c.provisioned.get("r1"); ok {
				t.Errorf("the expiry of a grant whose status was not written is remembered")
			}
			if ev := h.events(); len(ev) != 0 {
				t.Errorf("events %q for a status that was not written", ev)
			}
		})
	}
}

func wantCalls(remove bool) []string {
	if remove {
		return []string{"ensure r1", "remove r1"}
	}
	return []string{"ensure r1"}
}

func TestSyncActiveKeepsTheGrantInStepWithExpiresAt(t *testing.T) {
	expires := start.Add(30 * time.Minute)
	for _, tc := range []struct {
		name       string
		remembered *time.Time
		connected  bool
		ensureErr  error
		wantEnsure bool
		wantErr    error
		wantMemory bool
	}{
		{name: "grant minted for this expiry", remembered: &expires, connected: true, wantMemory: true},
		{name: "first sight since a restart", connected: true, wantEnsure: true, wantMemory: true},
		{name: "extended", remembered: ptr(start.Add(10 * time.Minute)), connected: true, wantEnsure: true, wantMemory: true},
		{name: "agent not connected", connected: false},
		{name: "agent fails", connected: true, ensureErr: errAgentDown, wantEnsure: true, wantErr: errAgentDown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{}, activeRequest("r1", expires))
			if tc.remembered != nil {
				h.c.provisioned.set("r1", *tc.remembered)
			}
			var agent *fakeAgent
			if tc.connected {
				agent = h.agents.connect("dev")
				agent.ensureErr = tc.ensureErr
			}

			err := h.sync("r1")
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("sync error %v, want %v", err, tc.wantErr)
			}
			if agent != nil {
				want := tunnel.GrantSpec{Request: "r1", Requester: "alice", Namespaces: []string{"payments"}, ExpiresAt: expires}
				ensured := len(agent.ensured) == 1 && equalSpec(agent.ensured[0], want)
				if ensured != tc.wantEnsure || len(agent.ensured) > 1 {
					t.Errorf("grants asked for %+v, want one for %v: %v", agent.ensured, expires, tc.wantEnsure)
				}
			}
			remembered, ok := h.c.provisioned.get("r1")
			if tc.wantMemory && !remembered.Equal(expires) || !tc.wantMemory && ok && remembered.Equal(expires) {
				t.Errorf("remembered %v (%v), want %v: %v", remembered, ok, expires, tc.wantMemory)
			}
			if w := h.statusWrites(); len(w) != 0 {
				t.Errorf("wrote %d statuses for an active request before its expiry", len(w))
			}
			if tc.wantErr == nil {
				h.waitArmed(expires)
			}
		})
	}
}

func TestExpiryRemovesTheGrantThenExpires(t *testing.T) {
	for _, tc := range []struct {
		name            string
		connected       bool
		removeErr       error
		wantProvisioned string
	}{
		{name: "agent connected", connected: true, wantProvisioned: "False/GrantRemoved"},
		{name: "agent not connected", wantProvisioned: "True/Granted"},
		{name: "agent fails to remove", connected: true, removeErr: errAgentDown, wantProvisioned: "True/Granted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expires := start.Add(-time.Second)
			h := newHarness(t, Options{}, activeRequest("r1", expires))
			h.c.provisioned.set("r1", expires)
			var agent *fakeAgent
			if tc.connected {
				agent = h.agents.connect("dev")
				agent.removeErr = tc.removeErr
			}

			if err := h.sync("r1"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			got := h.stored("r1")
			if got.Status.Phase != v1alpha1.AccessRequestExpired || got.Status.Message != "expired at "+expires.Format(time.RFC3339) {
				t.Errorf("phase %s, message %q: want Expired at %v", got.Status.Phase, got.Status.Message, expires)
			}
			if !meta.IsStatusConditionTrue(got.Status.Conditions, v1alpha1.ConditionExpired) {
				t.Errorf("no Expired condition: %+v", got.Status.Conditions)
			}
			if p := provisioned(got); p != tc.wantProvisioned {
				t.Errorf("Provisioned %s, want %s", p, tc.wantProvisioned)
			}
			if agent != nil && agent.count("remove r1") != 1 {
				t.Errorf("agent calls %q, want one removal", agent.callsOf())
			}
			if ev := h.events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Normal Expired Access expired at ") {
				t.Errorf("events %q, want one Expired", ev)
			}
		})
	}
}

func TestExpiryStatusConflictIsRetried(t *testing.T) {
	h := newHarness(t, Options{}, activeRequest("r1", start))
	h.failStatusWrites(apierrors.NewConflict(accessRequests, "r1", errors.New("modified")))
	if err := h.sync("r1"); !errors.Is(err, errConflict) {
		t.Fatalf("sync error %v, want errConflict", err)
	}
	if got := h.stored("r1"); got.Status.Phase != v1alpha1.AccessRequestActive {
		t.Errorf("phase %s, want Active still", got.Status.Phase)
	}
}

func TestPendingTimeoutDenies(t *testing.T) {
	created := start.Add(-time.Hour)
	for _, tc := range []struct {
		name       string
		timeout    time.Duration
		writeErr   error
		wantDenied bool
		wantTimer  *time.Time
		wantErr    bool
	}{
		{name: "no timeout"},
		{name: "before the deadline", timeout: 2 * time.Hour, wantTimer: ptr(created.Add(2 * time.Hour))},
		{name: "at the deadline", timeout: time.Hour, wantDenied: true},
		{name: "past the deadline", timeout: time.Minute, wantDenied: true},
		{name: "past the deadline, status write fails", timeout: time.Minute, writeErr: apierrors.NewInternalError(errors.New("etcd is down")), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, Options{PendingTimeout: tc.timeout}, pendingRequest("r1"))
			if tc.writeErr != nil {
				h.failStatusWrites(tc.writeErr)
			}
			err := h.sync("r1")
			if (err != nil) != tc.wantErr {
				t.Fatalf("sync error %v, want one: %v", err, tc.wantErr)
			}
			got := h.stored("r1")
			if !tc.wantDenied {
				if got.Status.Phase != v1alpha1.AccessRequestPending {
					t.Errorf("phase %s, want Pending", got.Status.Phase)
				}
				if tc.wantTimer != nil {
					h.waitArmed(*tc.wantTimer)
				}
				return
			}
			reason := "no decision within " + tc.timeout.String()
			if got.Status.Phase != v1alpha1.AccessRequestDenied || got.Status.Message != "denied by janus: "+reason {
				t.Errorf("phase %s, message %q: want Denied, %q", got.Status.Phase, got.Status.Message, reason)
			}
			if d := got.Status.Decision; d == nil || d.User != "janus" || !d.Time.Time.Equal(start) || d.Reason != reason {
				t.Errorf("decision %+v, want janus's at %v", d, start)
			}
			if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionDenied); c == nil || c.Reason != "PendingTimeout" {
				t.Errorf("Denied condition %+v, want reason PendingTimeout", c)
			}
			if ev := h.events(); len(ev) != 1 || ev[0] != "Normal PendingTimeout Denied: "+reason {
				t.Errorf("events %q, want the PendingTimeout one", ev)
			}
		})
	}
}

func TestSyncFinishedRemovesTheGrant(t *testing.T) {
	for _, phase := range []v1alpha1.AccessRequestPhase{v1alpha1.AccessRequestRevoked, v1alpha1.AccessRequestWithdrawn, v1alpha1.AccessRequestExpired} {
		t.Run(string(phase), func(t *testing.T) {
			h := newHarness(t, Options{}, finishedRequest("r1", phase, start, false))
			agent := h.agents.connect("dev")
			h.c.provisioned.set("r1", start)

			if err := h.sync("r1"); err != nil {
				t.Fatalf("sync: %v", err)
			}
			if got := agent.callsOf(); !slices.Equal(got, []string{"remove r1"}) {
				t.Errorf("agent calls %q, want the removal", got)
			}
			if p := provisioned(h.stored("r1")); p != "False/GrantRemoved" {
				t.Errorf("Provisioned %s, want False/GrantRemoved", p)
			}
			want := "Normal GrantRemoved Grant removed from cluster dev (request " + strings.ToLower(string(phase)) + ")"
			if ev := h.events(); len(ev) != 1 || ev[0] != want {
				t.Errorf("events %q, want %q", ev, want)
			}
			if _, ok := h.c.provisioned.get("r1"); ok {
				t.Errorf("the removed grant's expiry is still remembered")
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func equalSpec(a, b tunnel.GrantSpec) bool {
	return a.Request == b.Request && a.Requester == b.Requester && slices.Equal(a.Namespaces, b.Namespaces) && a.ExpiresAt.Equal(b.ExpiresAt)
}
