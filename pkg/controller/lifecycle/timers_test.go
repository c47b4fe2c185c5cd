package lifecycle

import (
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The timers of the controller are the work queue's, on the fake clock:
// each test waits until the timer is armed, steps the clock to it, and
// waits for what the controller does then.

func TestExpiryTimerFiresAtExpiresAt(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("r1"))
	agent := h.agents.connect("dev")
	h.run()
	expires := start.Add(time.Hour)
	h.waitStored("r1", "is Active", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestActive
	})
	h.waitArmed(expires)

	// A second before, the queue looks at the time and arms the same
	// timer again: the request stays Active.
	armed := h.clock.armed(expires)
	h.stepTo(expires.Add(-time.Second))
	h.eventually("the timer re-armed after the step", func() bool { return h.clock.armed(expires) > armed })
	if got := h.stored("r1"); got.Status.Phase != v1alpha1.AccessRequestActive || agent.count("remove r1") != 0 {
		t.Fatalf("phase %s, agent calls %q a second before the expiry", got.Status.Phase, agent.callsOf())
	}

	h.stepTo(expires)
	got := h.waitStored("r1", "is Expired", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestExpired
	})
	if c := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionExpired); c == nil || !c.LastTransitionTime.Time.Equal(expires) {
		t.Errorf("Expired condition %+v, want it at %v", c, expires)
	}
	if p := provisioned(got); p != "False/GrantRemoved" {
		t.Errorf("Provisioned %s, want False/GrantRemoved", p)
	}
	if calls := agent.callsOf(); !slices.Equal(calls, []string{"ensure r1", "remove r1"}) {
		t.Errorf("agent calls %q, want the grant and its removal", calls)
	}
}

func TestPendingTimeoutTimerDeniesAtTheDeadline(t *testing.T) {
	deadline := start.Add(30 * time.Minute) // created an hour before start
	h := newHarness(t, Options{PendingTimeout: 90 * time.Minute}, pendingRequest("r1"))
	h.run()
	h.waitArmed(deadline)
	h.stepTo(deadline)
	got := h.waitStored("r1", "is Denied", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestDenied
	})
	if d := got.Status.Decision; d == nil || d.User != "janus" || !d.Time.Time.Equal(deadline) {
		t.Errorf("decision %+v, want janus's at %v", d, deadline)
	}
}

func TestRetentionTimerDeletesAfterTheRetention(t *testing.T) {
	deleteAt := start.Add(30 * time.Minute)
	h := newHarness(t, Options{Retention: time.Hour}, deniedRequest("r1", start.Add(-30*time.Minute)), pendingRequest("r2"))
	h.run()
	h.waitArmed(deleteAt)
	if d := h.deletes(); len(d) != 0 {
		t.Fatalf("deleted %q before the retention", d)
	}
	h.stepTo(deleteAt)
	h.eventually("the deletion", func() bool { return len(h.deletes()) > 0 })
	if d := h.deletes(); !slices.Equal(d, []string{"r1 uid=r1-uid"}) {
		t.Errorf("deletions %q, want only the denied request", d)
	}
}

// TestControllerRetriesAFailedSync: a sync that failed is retried after
// the work queue's backoff.
func TestControllerRetriesAFailedSync(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("r1"))
	agent := h.agents.connect("dev")
	agent.mu.Lock()
	agent.ensureErr = errAgentDown
	agent.mu.Unlock()
	h.run()
	h.eventually("a failed grant", func() bool { return agent.count("ensure r1") == 1 })
	h.waitArmed(start.Add(5 * time.Millisecond))

	agent.mu.Lock()
	agent.ensureErr = nil
	agent.mu.Unlock()
	h.stepTo(start.Add(time.Second))
	h.waitStored("r1", "is Active", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestActive
	})
	if n := agent.count("ensure r1"); n != 2 {
		t.Errorf("%d grants asked for, want 2", n)
	}
}
