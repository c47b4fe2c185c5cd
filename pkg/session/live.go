package session

import (
	"errors"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrSessionNotOpen is returned to terminate a session this replica does
// not relay (it ended, or it never ran here).
var ErrSessionNotOpen = errors.New("the session is not open on this replica")

// liveSession is what the engine keeps of a session while it runs: how to
// cut it, and its followers.
type liveSession struct {
	hub *followHub
	// terminated carries why the session is cut (an approver's reason, or
	// the replica's); the relay cuts the session with it. Buffered: the
	// first termination wins.
	terminated chan termination
	once       sync.Once
}

// termination is why a live session is cut from outside its relay.
type termination struct {
	why   string
	cause EndCause
	// told is the reason of the Status the user's terminal gets.
	told metav1.StatusReason
}

func (l *liveSession) terminate(t termination) {
	l.once.Do(func() { l.terminated <- t })
}

// addLive registers a session under its name (RecordingID) while it runs.
func (e *Engine) addLive(name string) *liveSession {
	l := &liveSession{hub: newFollowHub(e.cfg.Clock), terminated: make(chan termination, 1)}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.live[name] = l
	openSessions.Inc()
	if e.suspended != "" {
		// Reserved before Suspend, and not among those it cut.
		l.terminate(termination{why: e.suspended, cause: EndReplicaSuspended, told: metav1.StatusReasonServiceUnavailable})
	}
	return l
}

func (e *Engine) removeLive(name string, l *liveSession, why string) {
	e.mu.Lock()
	if e.live[name] == l {
		delete(e.live, name)
	}
	openSessions.Dec()
	e.mu.Unlock()
	l.hub.close(why)
}

func (e *Engine) liveSession(name string) *liveSession {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.live[name]
}

// Terminate cuts the open session name (its Session's name) with why,
// which the user reads on their terminal. It returns ErrSessionNotOpen
// when this replica relays no such session.
func (e *Engine) Terminate(name, why string) error {
	l := e.liveSession(name)
	if l == nil {
		return ErrSessionNotOpen
	}
	l.terminate(termination{why: why, cause: EndTerminated, told: metav1.StatusReasonForbidden})
	return nil
}

// Suspend cuts every open session with why and refuses new ones, with
// 503 and why, until Resume: for a replica that may be counted gone by
// its peers (its heartbeat Lease unrenewed), whose sessions' records they
// would close. It returns how many sessions it cut.
func (e *Engine) Suspend(why string) int {
	e.mu.Lock()
	e.suspended = why
	live := make([]*liveSession, 0, len(e.live))
	for _, l := range e.live {
		live = append(live, l)
	}
	e.mu.Unlock()
	for _, l := range live {
		l.terminate(termination{why: why, cause: EndReplicaSuspended, told: metav1.StatusReasonServiceUnavailable})
	}
	return len(live)
}

// Resume lets sessions open again after Suspend.
func (e *Engine) Resume() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.suspended = ""
}

// refusal is the error new sessions get while the engine is suspended;
// nil when it is not. e.mu must be held.
func (e *Engine) refusal() error {
	if e.suspended == "" {
		return nil
	}
	return apierrors.NewServiceUnavailable(e.suspended)
}

// Follow adds a read-only follower to the open session name. It returns
// the follower and the terminal's size, or ErrNotFollowable.
func (e *Engine) Follow(name string) (*Follower, int, int, error) {
	l := e.liveSession(name)
	if l == nil {
		return nil, 0, 0, ErrNotFollowable
	}
	return l.hub.follow()
}
