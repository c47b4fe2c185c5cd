package tunnelserver

import (
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
