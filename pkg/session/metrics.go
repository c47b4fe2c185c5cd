package session

import (
	"context"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// EndCause says why a session ended in a few words a metric can carry;
// Summary.Reason says it in full.
type EndCause string

// The causes of a session's end.
const (
	// EndCommand: the command ended, successfully or not.
	EndCommand EndCause = "command_ended"
	// EndUserClosed: the user closed the connection.
	EndUserClosed EndCause = "user_closed"
	// EndAccessEnded: the request expired, was revoked, withdrawn or deleted.
	EndAccessEnded EndCause = "access_ended"
	// EndTerminated: an approver terminated the session.
	EndTerminated EndCause = "terminated"
	// EndReplicaSuspended: this replica could not renew its heartbeat
	// Lease, and cut its sessions before its peers count it gone.
	EndReplicaSuspended EndCause = "replica_suspended"
	// EndIdle: no input or output for --idle-timeout.
	EndIdle EndCause = "idle"
	// EndConnectionLost: the agent's side went away for no stated reason.
	EndConnectionLost EndCause = "connection_lost"
	// EndRecordingFailed: the recording could not be written.
	EndRecordingFailed EndCause = "recording_failed"
	// EndLimit: a side sent a message beyond the limits.
	EndLimit EndCause = "limit"
	// EndProtocolError: a side broke the websocket protocol.
	EndProtocolError EndCause = "protocol_error"
	// EndRefused: the agent or the target cluster refused the stream.
	EndRefused EndCause = "refused"
	// EndNotOpened: the stream never opened.
	EndNotOpened EndCause = "not_opened"
)

var (
	openSessions = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "janus",
		Subsystem:      "session",
		Name:           "open",
		Help:           "Exec sessions this replica relays now.",
		StabilityLevel: metrics.ALPHA,
	})
	sessionBytes = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "session",
		Name:           "bytes_total",
		Help:           "Websocket payload bytes relayed by exec sessions, by direction: in (from the user) and out (to the user).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"direction"})
	sessionEnds = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "session",
		Name:           "ends_total",
		Help:           "Exec sessions ended, by cause (command_ended, user_closed, access_ended, terminated, replica_suspended, idle, connection_lost, recording_failed, limit, protocol_error, refused, not_opened).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
)

func init() {
	legacyregistry.MustRegister(openSessions, sessionBytes, sessionEnds)
}

// endSession counts a session's end and tells the registry.
func endSession(ctx context.Context, obs Observer, s Summary) {
	cause := s.Cause
	if cause == "" {
		cause = EndConnectionLost
	}
	sessionEnds.WithLabelValues(string(cause)).Inc()
	obs.Ended(ctx, s)
}
