package health

import (
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	tunnelConnected = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "janus",
		Subsystem:      "agent_tunnel",
		Name:           "connected",
		Help:           "1 while the agent's tunnel to janus-apiserver is up, else 0.",
		StabilityLevel: metrics.ALPHA,
	})
	tunnelReconnects = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "agent_tunnel",
		Name:           "reconnects_total",
		Help:           "Tunnels to janus-apiserver opened after the first one (after a drop, or to renew the agent's token).",
		StabilityLevel: metrics.ALPHA,
	})
)

func init() {
	legacyregistry.MustRegister(tunnelConnected, tunnelReconnects)
}

// Tunnel is the state of the agent's tunnel as its connector reports it.
type Tunnel struct {
	now func() time.Time

	mu     sync.Mutex
	up     bool
	since  time.Time
	reason string
	opened int
}

// NewTunnel returns the state of a tunnel not yet opened.
func NewTunnel() *Tunnel {
	return &Tunnel{now: time.Now, since: time.Now(), reason: "the tunnel to janus-apiserver has not opened yet"}
}

// Up records that the tunnel opened.
func (t *Tunnel) Up() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.opened > 0 {
		tunnelReconnects.Inc()
	}
	t.opened++
	t.up, t.since, t.reason = true, t.now(), ""
	tunnelConnected.Set(1)
}

// Down records that the tunnel went down, or did not open, because of err.
func (t *Tunnel) Down(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	reason := "the tunnel to janus-apiserver is down"
	if err != nil {
		reason += ": " + err.Error()
	}
	if t.up {
		t.since = t.now()
	}
	t.up, t.reason = false, reason
	tunnelConnected.Set(0)
}

// State says whether the tunnel is up, since when, and if not, why.
func (t *Tunnel) State() (up bool, since time.Time, reason string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.up, t.since, t.reason
}
