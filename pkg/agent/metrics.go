package agent

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	callsServed = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace: "janus",
		Subsystem: "agent",
		Name:      "calls_served_total",
		Help: "Calls of the agent API janus-apiserver made through the tunnel, by call and result: ok, refused (this agent's policy), " +
			"invalid (a malformed call) or error (the target cluster or the agent failed).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"call", "result"})
	grantsEnsured = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "agent",
		Name:           "grants_ensured_total",
		Help:           "Grants made or refreshed (a new token at an extension) in the target cluster, directly or by a reconcile.",
		StabilityLevel: metrics.ALPHA,
	})
	grantsRemoved = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "agent",
		Name:           "grants_removed_total",
		Help:           "Grants removed from the target cluster, directly or by a reconcile (a removal of a grant that was already gone counts too).",
		StabilityLevel: metrics.ALPHA,
	})
	grantStepDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace: "janus",
		Subsystem: "agent",
		Name:      "grant_step_duration_seconds",
		Help: "Time each step of making or removing a grant took in the target cluster, by step: check (the ClusterRole, namespace and " +
			"stale-RoleBinding reads, at once), objects (the ServiceAccount and RoleBindings, at once), token (the TokenRequest); " +
			"delete (the objects this agent made, at once, by UID: the access ends here) and sweep (the consistent list by label " +
			"and the deletion of what it found, which confirms a removal the deletions by UID cannot: after a restart, a grant " +
			"that failed half-way, an object replaced by another).",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 14),
		StabilityLevel: metrics.ALPHA,
	}, []string{"step"})
)

func init() {
	legacyregistry.MustRegister(callsServed, grantsEnsured, grantsRemoved, grantStepDuration)
}

// The steps grantStepDuration times.
const (
	stepCheck   = "check"
	stepObjects = "objects"
	stepToken   = "token"
	stepDelete  = "delete"
	stepSweep   = "sweep"
)

// timeStep records how long step took since began, and returns it.
func timeStep(step string, began time.Time) time.Duration {
	took := time.Since(began)
	grantStepDuration.WithLabelValues(step).Observe(took.Seconds())
	return took
}

// served counts the calls h answers under the name call.
func served(call string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h(rec, r)
		callsServed.WithLabelValues(call, resultOf(rec.status)).Inc()
	}
}

func resultOf(status int) string {
	switch {
	case status == 0, status < 400:
		return "ok"
	case status == http.StatusUnprocessableEntity:
		return "refused"
	case status < 500:
		return "invalid"
	}
	return "error"
}

// statusRecorder remembers the status a handler answered with; a stream
// that upgrades (101) or is hijacked counts as ok.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	if s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return hj.Hijack()
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
