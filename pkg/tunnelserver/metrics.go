package tunnelserver

import (
	"errors"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	refusedConnections = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "tunnel",
		Name:           "refused_connections_total",
		Help:           "Agent connections refused, by reason.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
	connectedAgents = metrics.NewGaugeVec(&metrics.GaugeOpts{
		Namespace:      "janus",
		Subsystem:      "tunnel",
		Name:           "connected_agents",
		Help:           "Open agent tunnels, by cluster.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"cluster"})
)

func init() {
	legacyregistry.MustRegister(refusedConnections, connectedAgents)
}

// agentCall names a call of the agent API in janus_agent_calls_total.
type agentCall string

const (
	callInfo        agentCall = "info"
	callEnsureGrant agentCall = "ensure_grant"
	callRemoveGrant agentCall = "remove_grant"
	callReconcile   agentCall = "reconcile"
	callPods        agentCall = "pods"
	callEvents      agentCall = "events"
	callOpenStream  agentCall = "open_stream"
)

var agentCalls = metrics.NewCounterVec(&metrics.CounterOpts{
	Namespace: "janus",
	Subsystem: "agent",
	Name:      "calls_total",
	Help: "Calls of the agents' API through their tunnels, by call and result: ok, refused (the agent's policy), " +
		"error (the agent answered with an error) or unreachable (no answer).",
	StabilityLevel: metrics.ALPHA,
}, []string{"call", "result"})

func init() {
	legacyregistry.MustRegister(agentCalls)
}

// callResult is the result label of a call that returned err.
func callResult(err error) string {
	var agentErr *AgentError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &agentErr) && agentErr.Refused:
		return "refused"
	case errors.As(err, &agentErr):
		return "error"
	}
	return "unreachable"
}

// RegisteredCluster makes cluster's connected-agents series exist at 0
// before its agent first connects, so that an agent that never came is
// seen as disconnected, not as missing.
func (s *Server) RegisteredCluster(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.unregistered, cluster)
	connectedAgents.WithLabelValues(cluster).Add(0)
}

// UnregisteredCluster drops the connected-agents series of a Cluster that
// is gone, now or once its last tunnel here has closed.
func (s *Server) UnregisteredCluster(cluster string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tunnels[cluster] > 0 {
		s.unregistered[cluster] = true
		return
	}
	connectedAgents.DeleteLabelValues(cluster)
}
