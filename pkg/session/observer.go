package session

import (
	"context"
	"time"

	"github.com/infroware/janus/pkg/recording"
)

// Spec is one exec session: who runs what where, under which request.
type Spec struct {
	// ID names the session; unique among the request's sessions.
	ID string
	// Request is the AccessRequest the session runs under.
	Request string
	// Cluster is the request's cluster, whose agent runs the stream.
	Cluster string
	// User is the requester's username, for the per-user limit.
	User string
	// Path and Query address the stream at the agent (tunnel.StreamPath,
	// tunnel.EncodeExecOptions).
	Path  string
	Query string
	// NoticeChannel is where the user reads Janus's own lines: stderr, or
	// stdout in a terminal session; 0 when the user reads neither.
	NoticeChannel byte
}

// Summary is how a session went, reported when it ended.
type Summary struct {
	Started, Ended time.Time
	// BytesIn and BytesOut count websocket payload from and to the user.
	BytesIn, BytesOut int64
	// Reason says why it ended, as people read it: "command ended",
	// "closed by the user", "idle", "access revoked by carol: …".
	Reason string
	// Cause is Reason as a bounded class, for janus_session_ends_total.
	Cause EndCause
	// Cut is true when anything but the command or the user ended it.
	Cut bool
	// Recording is the session's recording once closed (its location and
	// final digest); nil when it was not recorded.
	Recording *recording.Summary
}

// Observer is what the engine tells the registry, and asks it.
type Observer interface {
	// Started is called before the first byte flows; an error refuses the
	// session (no record, no session).
	Started(ctx context.Context) error
	// Ended is called once, after both connections are closed.
	Ended(ctx context.Context, s Summary)
	// AccessEnds says when the request's access ends (its expiresAt) and,
	// once it has ended, why ("access revoked by carol: …"); why is ""
	// while the access lasts.
	AccessEnds(ctx context.Context) (ends time.Time, why string)
}
