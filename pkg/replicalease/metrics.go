package replicalease

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// heartbeatStale is 1 while this replica's heartbeat Lease has gone
// unrenewed for half its duration (its sessions cut, new ones refused).
var heartbeatStale = metrics.NewGauge(&metrics.GaugeOpts{
	Namespace:      "janus",
	Name:           "replica_heartbeat_stale",
	Help:           "1 while this replica's heartbeat Lease has not been renewed for half its duration: its sessions are cut and new ones refused until a renewal succeeds.",
	StabilityLevel: metrics.ALPHA,
})

var registerOnce sync.Once

func registerMetrics() {
	registerOnce.Do(func() { legacyregistry.MustRegister(heartbeatStale) })
}
