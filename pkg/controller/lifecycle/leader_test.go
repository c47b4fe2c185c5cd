package lifecycle

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestOnlyTheLeaderActsOnAConnectedAgent: a replica that does not lead
// (Run not called) neither reconciles a connecting agent nor writes its
// Cluster's status, leaving both to the leader; once it leads, it
// reconciles the agents that connected before.
func TestOnlyTheLeaderActsOnAConnectedAgent(t *testing.T) {
	h := newHarness(t, Options{}, activeRequest("live", start.Add(time.Hour)), cluster("dev"))
	agent := h.connectAgent("dev")
	h.c.AgentDisconnected("dev")
	agent = h.connectAgent("dev")
	// A bounded look for what must not happen.
	err := wait.PollUntilContextTimeout(h.ctx, 5*time.Millisecond, 300*time.Millisecond, true, func(context.Context) (bool, error) {
		return len(agent.callsOf()) > 0 || len(agent.reconciledSnapshot()) > 0 || len(h.client.Actions()) > 0 && clusterWritten(h), nil
	})
	if err == nil {
		t.Fatalf("a replica that does not lead acted on the agent: calls %q, %d reconciliations", agent.callsOf(), len(agent.reconciledSnapshot()))
	}

	h.run()
	h.waitCluster("dev", "records the agent once leading", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })
	if n := len(agent.reconciledSnapshot()); n != 1 {
		t.Errorf("%d reconciliations once leading, want 1", n)
	}
}

// clusterWritten reports whether the controller wrote a Cluster.
func clusterWritten(h *harness) bool {
	for _, a := range h.client.Actions() {
		if a.GetResource().Resource == "clusters" && a.GetVerb() == "update" {
			return true
		}
	}
	return false
}

// TestANewLeaderArmsEveryTimerFromStorage: a controller that starts
// leading on requests another replica handled (nothing in memory) arms
// the expiry, pending-timeout and retention timers from what storage
// holds, and the expiry fires on time.
func TestANewLeaderArmsEveryTimerFromStorage(t *testing.T) {
	expires := start.Add(30 * time.Minute)
	pendingSince := start.Add(-time.Hour)
	pending := pendingRequest("waiting")
	pending.CreationTimestamp.Time = pendingSince
	ended := finishedRequest("ended", v1alpha1.AccessRequestRevoked, start.Add(-time.Minute), true)
	h := newHarness(t, Options{PendingTimeout: 2 * time.Hour, Retention: 24 * time.Hour},
		activeRequest("live", expires), pending, ended, cluster("dev"))
	agent := h.connectAgent("dev")
	h.run()
	// The work queue arms its earliest timer only: step from one to the
	// next.
	h.waitArmed(expires)
	h.stepTo(expires)
	h.waitStored("live", "is Expired at expiresAt", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestExpired
	})
	h.eventually("the grant removed", func() bool { return agent.count("remove live") == 1 })

	deadline := pendingSince.Add(2 * time.Hour)
	h.waitArmed(deadline)
	h.stepTo(deadline)
	h.waitStored("waiting", "is Denied at the pending timeout", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestDenied
	})

	deleteAt := start.Add(-time.Minute).Add(24 * time.Hour)
	h.waitArmed(deleteAt)
	h.stepTo(deleteAt)
	h.eventually("ended deleted after its retention", func() bool { return h.stored("ended") == nil })
}

// TestANewLeaderForgetsAgentsNoTunnelReaches: a Cluster still claiming an
// agent that left while nobody led is recorded as disconnected once the
// new leader gave the tunnels staleAgentGrace to show up; one whose agent
// is reached keeps its claim.
func TestANewLeaderForgetsAgentsNoTunnelReaches(t *testing.T) {
	gone, held := cluster("gone"), cluster("held")
	for _, c := range []*v1alpha1.Cluster{gone, held} {
		c.Status.Agent = v1alpha1.AgentStatus{Connected: true, Version: "v1.2.3"}
	}
	h := newHarness(t, Options{}, gone, held)
	h.connectAgent("held")
	h.run()
	h.waitArmed(start.Add(staleAgentGrace))
	h.stepTo(start.Add(staleAgentGrace))
	h.waitCluster("gone", "recorded as disconnected", func(c *v1alpha1.Cluster) bool { return !c.Status.Agent.Connected })
	if c := h.waitCluster("held", "still connected", func(*v1alpha1.Cluster) bool { return true }); !c.Status.Agent.Connected {
		t.Errorf("the cluster whose agent is reached was recorded as disconnected")
	}
}
