package lifecycle

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// TestAgentConnectedReconcilesThenSyncsTheCluster: a connecting agent is
// told which grants are active, recorded in its Cluster, and the
// cluster's requests are synced: the waiting one is granted, the finished
// one loses its grant, the overdue one expires, the deleted one goes.
func TestAgentConnectedReconcilesThenSyncsTheCluster(t *testing.T) {
	h := newHarness(t, Options{},
		activeRequest("live", start.Add(time.Hour)),
		activeRequest("overdue", start.Add(-time.Second)),
		deleted(activeRequest("going", start.Add(time.Hour)), "carol"),
		approvedRequest("waiting"),
		finishedRequest("ended", v1alpha1.AccessRequestRevoked, start.Add(-time.Minute), false),
		cluster("dev"))
	// The agent connects before this replica leads; once it does, the
	// workers start after the reconciliation, so that it alone decides
	// what the agent is asked first.
	agent := h.connectAgent("dev")
	h.run()
	c := h.waitCluster("dev", "records the agent", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })
	if n := len(agent.reconciledSnapshot()); n != 1 {
		t.Fatalf("%d reconciliations, want 1", n)
	}
	active := agent.reconciledSnapshot()[0].Active
	want := tunnel.GrantSpec{Request: "live", Requester: "alice", Namespaces: []string{"payments"}, ExpiresAt: start.Add(time.Hour)}
	if len(active) != 1 || !equalSpec(active[0], want) {
		t.Errorf("reconciled with active %+v, want only %+v", active, want)
	}

	h.waitStored("waiting", "is Active", func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
	h.waitStored("ended", "has its grant removed", func(ar *v1alpha1.AccessRequest) bool { return provisioned(ar) == "False/GrantRemoved" })
	h.waitStored("overdue", "is Expired", func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestExpired })
	h.waitStored("going", "loses its finalizer", func(ar *v1alpha1.AccessRequest) bool {
		return !slices.Contains(ar.Finalizers, v1alpha1.GrantFinalizer)
	})
	// The reconciliation ensured the live grant: no second mint for it.
	if n := agent.count("ensure live"); n != 0 {
		t.Errorf("live grant ensured %d more times after the reconciliation", n)
	}

	if a := c.Status.Agent; a.Version != "v1.2.3" || a.KubernetesVersion != "v1.37.2" || a.LastSeen == nil || !a.LastSeen.Time.Equal(start) {
		t.Errorf("agent status %+v, want the agent's versions, seen at %v", a, start)
	}
	if ns := c.Status.Namespaces; !slices.Equal(ns, []string{"default", "payments"}) {
		t.Errorf("namespaces %q, want the agent's, sorted and unique", ns)
	}
}

// TestReconcileFailureLeavesTheGrantToTheSync: a grant the reconciliation
// could not ensure is not taken for done; the request's sync ensures it.
func TestReconcileFailureLeavesTheGrantToTheSync(t *testing.T) {
	h := newHarness(t, Options{}, activeRequest("live", start.Add(time.Hour)), cluster("dev"))
	agent := h.agents.connect("dev")
	agent.reconcileFailed = map[string]string{"live": "namespace payments is terminating"}
	h.run()
	h.c.AgentConnected("dev")
	t.Cleanup(func() { h.c.heartbeats.stop("dev") })
	h.waitCluster("dev", "records the agent", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })
	// Taken for done, the grant would not be ensured again.
	h.eventually("the grant ensured by the sync", func() bool { return agent.count("ensure live") == 1 })
	if remembered, _ := h.c.provisioned.get("live"); !remembered.Equal(start.Add(time.Hour)) {
		t.Errorf("remembered expiry %v after the sync ensured the grant", remembered)
	}
}

// TestReconcileErrorStillSyncsTheCluster: an agent that fails the
// reconciliation is not recorded as connected, but its requests are
// synced still.
func TestReconcileErrorStillSyncsTheCluster(t *testing.T) {
	h := newHarness(t, Options{}, approvedRequest("waiting"), cluster("dev"))
	h.run()
	h.waitStored("waiting", "waits for the agent", func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Message == "approved; waiting for the agent of cluster dev to connect"
	})
	agent := h.agents.connect("dev")
	agent.reconcileErr = errAgentDown
	h.c.AgentConnected("dev")
	t.Cleanup(func() { h.c.heartbeats.stop("dev") })
	h.waitStored("waiting", "is Active", func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
	if c, _ := h.client.JanusV1alpha1().Clusters().Get(h.ctx, "dev", metav1.GetOptions{}); c.Status.Agent.Connected {
		t.Errorf("cluster recorded as connected after a failed reconciliation")
	}
}

func TestAgentDisconnectedRecordsTheLostTunnel(t *testing.T) {
	dev := cluster("dev")
	dev.Status.Agent = v1alpha1.AgentStatus{Connected: true, Version: "v1.2.3", LastSeen: &metav1.Time{Time: start.Add(-time.Hour)}}
	h := newHarness(t, Options{}, dev)
	h.run()
	h.stepTo(start.Add(time.Minute))
	h.c.AgentDisconnected("dev")
	c := h.waitCluster("dev", "records the lost tunnel", func(c *v1alpha1.Cluster) bool { return !c.Status.Agent.Connected })
	if a := c.Status.Agent; a.LastSeen == nil || !a.LastSeen.Time.Equal(start.Add(time.Minute)) || a.Version != "v1.2.3" {
		t.Errorf("agent status %+v, want last seen now and the version kept", a)
	}
}

// TestClusterStatusFollowsTheAgentWhileConnected: the namespaces a
// connected agent reports are refreshed every clusterStatusInterval, and
// no longer once it left.
func TestClusterStatusFollowsTheAgentWhileConnected(t *testing.T) {
	h := newHarness(t, Options{}, cluster("dev"))
	h.run()
	agent := h.connectAgent("dev")
	h.waitCluster("dev", "records the agent", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })
	h.eventually("the status refresh ticking", func() bool { return h.clock.ticking(clusterStatusInterval) == 1 })

	agent.mu.Lock()
	agent.info.Namespaces = []string{"payments", "orders"}
	agent.mu.Unlock()
	h.stepTo(start.Add(clusterStatusInterval))
	c := h.waitCluster("dev", "shows the new namespace", func(c *v1alpha1.Cluster) bool {
		return slices.Equal(c.Status.Namespaces, []string{"orders", "payments"})
	})
	if a := c.Status.Agent; a.LastSeen == nil || !a.LastSeen.Time.Equal(start.Add(clusterStatusInterval)) {
		t.Errorf("last seen %v, want the refresh's time", a.LastSeen)
	}
}

func (h *harness) waitCluster(name, what string, cond func(*v1alpha1.Cluster) bool) *v1alpha1.Cluster {
	h.t.Helper()
	var got *v1alpha1.Cluster
	h.eventually("cluster "+name+" "+what, func() bool {
		c, err := h.client.JanusV1alpha1().Clusters().Get(h.ctx, name, metav1.GetOptions{})
		got = c
		return err == nil && cond(c)
	})
	return got
}
