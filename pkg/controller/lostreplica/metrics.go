package lostreplica

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	// lostReplicas counts the replicas this Lease holder counted gone.
	lostReplicas = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "janus",
		Name:           "lost_replicas_total",
		Help:           "Replicas the Lease holder counted gone, their heartbeat Lease unchanged for a whole duration.",
		StabilityLevel: metrics.ALPHA,
	})
	// lostSessions counts the Sessions closed for them.
	lostSessions = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "janus",
		Name:           "lost_replica_sessions_closed_total",
		Help:           "Open Sessions of lost replicas the Lease holder closed, their recordings sealed.",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { legacyregistry.MustRegister(lostReplicas, lostSessions) })
}
