package lifecycle

import (
	"context"
	"errors"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/infroware/janus/pkg/tunnelserver"
)

var (
	grantProvisioningDuration = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      "janus",
		Subsystem:      "grant",
		Name:           "provisioning_duration_seconds",
		Help:           "Time the agent took to make an approved request's grant in its target cluster, whether it succeeded or not.",
		Buckets:        metrics.ExponentialBuckets(0.002, 2, 13),
		StabilityLevel: metrics.ALPHA,
	})
	grantProvisioningFailures = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "janus",
		Subsystem: "grant",
		Name:      "provisioning_failures_total",
		Help: "Grants that could not be made, by reason: refused (the agent's own policy forbids it), agent_error (the agent failed and rolled back), " +
			"timeout, or unreachable (the tunnel did not carry the call; it is retried).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
)

func init() {
	legacyregistry.MustRegister(grantProvisioningDuration, grantProvisioningFailures)
}

// observeProvisioning records one attempt to make a grant, which took took
// and ended in err.
func observeProvisioning(took time.Duration, err error) {
	grantProvisioningDuration.Observe(took.Seconds())
	if err == nil {
		return
	}
	reason := "unreachable"
	var agentErr *tunnelserver.AgentError
	switch {
	case errors.As(err, &agentErr) && agentErr.Refused:
		reason = "refused"
	case errors.As(err, &agentErr):
		reason = "agent_error"
	case errors.Is(err, context.DeadlineExceeded):
		reason = "timeout"
	}
	grantProvisioningFailures.WithLabelValues(reason).Inc()
}
