package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// AgentConnected notes that cluster's agent can be reached, through this
// replica's tunnel or a peer's. Only the leader acts on it: it reconciles
// the cluster with what is active centrally, records the agent in the
// Cluster's status and re-examines the cluster's requests (approved ones
// waiting for the agent get their grant, finished ones get their removal
// confirmed). A replica that is not leading only remembers the agent, and
// acts on it once it leads (Run).
func (c *Controller) AgentConnected(cluster string) {
	c.agentsMu.Lock()
	c.connected.Insert(cluster)
	leading := c.leading
	c.agentsMu.Unlock()
	if !leading {
		klog.V(2).InfoS("Agent connected; the leader reconciles it", "cluster", cluster)
		return
	}
	c.agentConnected(cluster, nil)
}

// agentConnected is the leader's work for a connected agent; reconciled,
// if set, is called once the reconciliation is done, whatever its result.
func (c *Controller) agentConnected(cluster string, reconciled func()) {
	heartbeat, stop := context.WithCancel(c.life)
	c.heartbeats.start(cluster, stop)
	go func() {
		ctx, cancel := context.WithTimeout(c.life, time.Minute)
		defer cancel()
		if err := c.reconcileCluster(ctx, cluster); err != nil {
			klog.ErrorS(err, "Reconciling cluster on connect", "cluster", cluster)
		}
		if reconciled != nil {
			reconciled()
		}
		for _, ar := range c.requestsOf(cluster) {
			c.queue.Add(ar.Name)
		}
		c.keepClusterStatus(heartbeat, cluster)
	}()
}

// startLeading makes this controller the one that acts on agents, and
// does for every agent already connected what AgentConnected would have:
// a new leader reconciles the agents that connected under the old one. It
// returns once those reconciliations are done or wait has passed.
func (c *Controller) startLeading(wait time.Duration) {
	c.agentsMu.Lock()
	c.leading = true
	clusters := sets.List(c.connected)
	c.agentsMu.Unlock()
	var done sync.WaitGroup
	for _, cluster := range clusters {
		done.Add(1)
		c.agentConnected(cluster, done.Done)
	}
	go c.forgetAgentsNobodyHolds()
	finished := make(chan struct{})
	go func() { done.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-c.clock.After(wait):
		klog.InfoS("Starting the workers before every connected agent is reconciled", "agents", len(clusters), "waited", wait)
	}
}

// keepClusterStatus refreshes lastSeen and the namespace list from the
// agent while its tunnel is up, so the request form shows namespaces that
// appeared since the agent connected.
func (c *Controller) keepClusterStatus(ctx context.Context, cluster string) {
	ticker := c.clock.NewTicker(clusterStatusInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
		agent, err := c.agents.Agent(cluster)
		if err != nil {
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if info, err := agent.Info(callCtx); err == nil {
			c.recordAgent(callCtx, cluster, info)
		}
		cancel()
	}
}

// AgentDisconnected notes that cluster's agent can no longer be reached;
// the leader records the lost tunnel in the Cluster's status.
func (c *Controller) AgentDisconnected(cluster string) {
	c.agentsMu.Lock()
	c.connected.Delete(cluster)
	leading := c.leading
	c.agentsMu.Unlock()
	c.heartbeats.stop(cluster)
	if !leading {
		return
	}
	go func() {
		// Said even while the server stops (that closes every tunnel), so
		// the Cluster does not claim an agent nobody holds.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.life), 30*time.Second)
		defer cancel()
		c.updateClusterStatus(ctx, cluster, func(s *v1alpha1.ClusterStatus) {
			s.Agent.Connected = false
			now := metav1.NewTime(c.clock.Now())
			s.Agent.LastSeen = &now
		})
	}()
}

func (c *Controller) reconcileCluster(ctx context.Context, cluster string) error {
	agent, err := c.agents.Agent(cluster)
	if err != nil {
		return err
	}
	var active []tunnel.GrantSpec
	for _, ar := range c.requestsOf(cluster) {
		if ar.Status.Phase == v1alpha1.AccessRequestActive && ar.DeletionTimestamp == nil && ar.Status.ExpiresAt != nil && c.clock.Now().Before(ar.Status.ExpiresAt.Time) {
			active = append(active, tunnel.GrantSpec{Request: ar.Name, Requester: ar.Spec.Requester.Username, Namespaces: ar.Spec.Namespaces, ExpiresAt: ar.Status.ExpiresAt.Time})
		}
	}
	result, err := agent.Reconcile(ctx, tunnel.ReconcileRequest{Active: active})
	if err != nil {
		return fmt.Errorf("reconciling cluster %s: %w", cluster, err)
	}
	for _, spec := range active {
		if _, failed := result.Failed[spec.Request]; !failed {
			c.provisioned.set(spec.Request, spec.ExpiresAt)
		}
		// A request that ended while the reconciliation ran may just have
		// had its grant re-created by it: take that grant back.
		if ar, err := c.requests.Get(spec.Request); err == nil && (ar.Status.Phase != v1alpha1.AccessRequestActive || ar.DeletionTimestamp != nil) {
			if err := agent.RemoveGrant(ctx, spec.Request); err != nil {
				klog.ErrorS(err, "Removing a grant that ended during reconciliation", "request", spec.Request)
			}
			c.provisioned.forget(spec.Request)
		}
	}
	klog.InfoS("Reconciled cluster", "cluster", cluster, "active", len(active), "removed", result.Removed, "failed", len(result.Failed))

	info, err := agent.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading agent info of %s: %w", cluster, err)
	}
	c.recordAgent(ctx, cluster, info)
	return nil
}

// recordAgent writes what a connected agent reported into its Cluster.
func (c *Controller) recordAgent(ctx context.Context, cluster string, info tunnel.AgentInfo) {
	c.updateClusterStatus(ctx, cluster, func(s *v1alpha1.ClusterStatus) {
		now := metav1.NewTime(c.clock.Now())
		s.Agent = v1alpha1.AgentStatus{Connected: true, LastSeen: &now, Version: info.Version, KubernetesVersion: info.KubernetesVersion}
		s.Namespaces = sets.List(sets.New(info.Namespaces...))
	})
}

func (c *Controller) updateClusterStatus(ctx context.Context, cluster string, mutate func(*v1alpha1.ClusterStatus)) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		current, err := c.client.JanusV1alpha1().Clusters().Get(ctx, cluster, metav1.GetOptions{})
		if err != nil {
			return err
		}
		updated := current.DeepCopy()
		mutate(&updated.Status)
		if slices.Equal(updated.Status.Namespaces, current.Status.Namespaces) && updated.Status.Agent == current.Status.Agent {
			return nil
		}
		_, err = c.client.JanusV1alpha1().Clusters().UpdateStatus(ctx, updated, metav1.UpdateOptions{FieldManager: "janus-lifecycle"})
		return err
	})
	if err != nil {
		klog.ErrorS(err, "Updating cluster status", "cluster", cluster)
	}
}

// staleAgentGrace is how long a new leader waits before it records as
// disconnected the agents a Cluster still claims and no tunnel reaches:
// time for the peer links of a replica that just started to come up.
const staleAgentGrace = 30 * time.Second

// forgetAgentsNobodyHolds records as disconnected, staleAgentGrace after
// this controller started leading, the Clusters whose status says their
// agent is connected while no tunnel, here or at a peer, reaches it: an
// agent that left while no replica led (or while the old leader died)
// would otherwise be claimed connected for good.
func (c *Controller) forgetAgentsNobodyHolds() {
	timer := c.clock.NewTimer(staleAgentGrace)
	defer timer.Stop()
	select {
	case <-c.life.Done():
		return
	case <-timer.C():
	}
	clusters, err := c.clusters.List(everything)
	if err != nil {
		return
	}
	for _, cluster := range clusters {
		c.agentsMu.Lock()
		held := c.connected.Has(cluster.Name)
		c.agentsMu.Unlock()
		if held || !cluster.Status.Agent.Connected {
			continue
		}
		klog.InfoS("Recording an agent no tunnel reaches as disconnected", "cluster", cluster.Name)
		ctx, cancel := context.WithTimeout(c.life, 30*time.Second)
		c.updateClusterStatus(ctx, cluster.Name, func(s *v1alpha1.ClusterStatus) {
			c.agentsMu.Lock()
			defer c.agentsMu.Unlock()
			if !c.connected.Has(cluster.Name) {
				s.Agent.Connected = false
			}
		})
		cancel()
	}
}

// clusterStatusInterval is how often a connected agent's Cluster status is
// refreshed.
const clusterStatusInterval = 30 * time.Second

// heartbeats stops the status refresh of a cluster whose agent left.
type heartbeats struct {
	mu    sync.Mutex
	stops map[string]context.CancelFunc
}

func (h *heartbeats) start(cluster string, stop context.CancelFunc) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stops == nil {
		h.stops = map[string]context.CancelFunc{}
	}
	if previous, ok := h.stops[cluster]; ok {
		previous()
	}
	h.stops[cluster] = stop
}

func (h *heartbeats) stop(cluster string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if stop, ok := h.stops[cluster]; ok {
		stop()
		delete(h.stops, cluster)
	}
}
