package session

import (
	"errors"
	"sync"
)

// ErrSessionNotOpen is returned to terminate a session this replica does
// not relay (it ended, or it never ran here).
var ErrSessionNotOpen = errors.New("the session is not open on this replica")

// liveSession is what the engine keeps of a session while it runs: how to
// cut it, and its followers.
type liveSession struct {
	hub *followHub
	// terminated carries the reason an approver gave; the relay cuts the
	// session with it. Buffered: the first termination wins.
	terminated chan string
	once       sync.Once
}

// addLive registers a session under its name (RecordingID) while it runs.
func (e *Engine) addLive(name string) *liveSession {
	l := &liveSession{hub: newFollowHub(e.cfg.Clock), terminated: make(chan string, 1)}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.live[name] = l
	openSessions.Inc()
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
	l.once.Do(func() { l.terminated <- why })
	return nil
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
