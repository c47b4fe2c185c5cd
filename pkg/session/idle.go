package session

import (
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// idleEvent is what a firing of the idle timer means.
type idleEvent int

const (
	// idleStale: a message re-armed the timer after it had fired.
	idleStale idleEvent = iota
	// idleWarning: the user is told the session will be closed.
	idleWarning
	// idleExpired: the session has been idle for the whole timeout.
	idleExpired
)

// idleTimer ends a session in which nothing is said. One timer, re-armed
// by every message in either direction, fires twice: first to warn the
// user, then to end the session. A nil *idleTimer never fires, so a
// relay without an idle timeout needs no special case.
type idleTimer struct {
	clock clock.Clock
	// timeout is how long a session may go without a message.
	timeout time.Duration
	// warnAfter is how long a session is idle when the user is warned.
	warnAfter time.Duration

	mu    sync.Mutex
	timer clock.Timer
	// due is when the phase the timer is armed for ends: a firing before
	// it is a leftover of a phase that a message cut short.
	due    time.Time
	warned bool
}

// newIdleTimer arms a timer for a session that just started, or returns
// nil when timeout is 0.
func newIdleTimer(c clock.Clock, timeout time.Duration) *idleTimer {
	if timeout <= 0 {
		return nil
	}
	t := &idleTimer{clock: c, timeout: timeout, warnAfter: idleWarningAfter(timeout)}
	t.timer = c.NewTimer(t.warnAfter)
	t.due = c.Now().Add(t.warnAfter)
	return t
}

// idleWarningAfter is when an idle session is warned: a minute before it
// is closed, or half way through a timeout shorter than two minutes.
func idleWarningAfter(timeout time.Duration) time.Duration {
	if timeout < 2*time.Minute {
		return timeout / 2
	}
	return timeout - time.Minute
}

// touch records a message: the session is busy, the count starts again.
func (t *idleTimer) touch() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.warned = false
	t.armLocked(t.warnAfter)
}

func (t *idleTimer) armLocked(d time.Duration) {
	t.timer.Reset(d)
	t.due = t.clock.Now().Add(d)
}

// C delivers the timer's firings; nil (never ready) for a nil timer.
func (t *idleTimer) C() <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.timer.C()
}

// fired is called for each value received from C and says what it means.
// After a warning the timer is armed for the rest of the timeout.
func (t *idleTimer) fired() idleEvent {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.clock.Now().Before(t.due) {
		return idleStale
	}
	if !t.warned {
		t.warned = true
		t.armLocked(t.timeout - t.warnAfter)
		return idleWarning
	}
	return idleExpired
}

func (t *idleTimer) stop() {
	if t == nil {
		return
	}
	t.timer.Stop()
}

// warning is the line an idle session's user reads before it is closed.
func (t *idleTimer) warning() string {
	return "janus: this session has been idle for " + HumanDuration(t.warnAfter) +
		" and will be closed in " + HumanDuration(t.timeout-t.warnAfter)
}

// closing is the line an idle session's user reads when it is closed.
func (t *idleTimer) closing() string {
	return "janus: session closed after " + HumanDuration(t.timeout) + " idle"
}

// HumanDuration writes d the way people say it: "15m", "1h30m", "45s".
func HumanDuration(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
