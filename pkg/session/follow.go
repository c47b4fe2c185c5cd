package session

import (
	"errors"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"k8s.io/utils/clock"
)

const (
	// followHistory bounds the recent output a new follower is shown
	// first, so that it sees the screen as it is, not a blank one: two
	// arenas of this size, the older dropped when the newer fills.
	followHistory = 64 << 10
	// followerQueue is how many events may wait for a follower; one that
	// falls further behind is let go, never waited for.
	followerQueue = 1024
)

// ErrNotFollowable is returned for a session this replica does not relay.
var ErrNotFollowable = errors.New("the session is not open on this replica")

// FollowEvent is one event of a live session, timed from its start: an
// asciicast code ("o", "r" or "m") and its data.
type FollowEvent struct {
	Elapsed time.Duration
	Code    string
	Data    []byte
}

// Follower receives a live session's events. Events is closed when the
// session ends or the follower falls behind; Ended then says why.
type Follower struct {
	events chan FollowEvent
	hub    *followHub
	why    string
}

// Events are the session's events as they happen, after the recent ones.
func (f *Follower) Events() <-chan FollowEvent { return f.events }

// Ended says why Events was closed.
func (f *Follower) Ended() string {
	f.hub.mu.Lock()
	defer f.hub.mu.Unlock()
	return f.why
}

// Started is when the session started; events are timed from it.
func (f *Follower) Started() time.Time { return f.hub.started }

// Stop lets the session go on without this follower.
func (f *Follower) Stop() { f.hub.leave(f, "") }

// heldEvent is a recent event and the arena its data is in.
type heldEvent struct {
	FollowEvent
	arena int
}

// followHub fans one session's output, resizes and notices out to the
// approvers following it. It only ever copies: a follower cannot reach
// the session, and a slow one is dropped rather than slowing it.
type followHub struct {
	clock   clock.PassiveClock
	started time.Time

	mu         sync.Mutex
	cols, rows int
	// arenas hold the recent events' data; history the events, oldest
	// first, each pointing into an arena.
	arenas    [2][]byte
	history   []heldEvent
	oldArena  int
	pending   []byte
	followers map[*Follower]struct{}
	ended     string
	closed    bool
}

func newFollowHub(c clock.PassiveClock) *followHub {
	return &followHub{
		clock: c, started: c.Now(), cols: 80, rows: 24,
		arenas: [2][]byte{make([]byte, 0, followHistory), nil}, oldArena: 1,
		followers: map[*Follower]struct{}{},
	}
}

// output is what the user received. A UTF-8 sequence split between two
// frames is held back until it is whole, as the recording does.
func (h *followHub) output(p []byte) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	if len(h.pending) > 0 {
		p = append(h.pending, p...)
		h.pending = nil
	}
	if tail := splitRune(p); tail > 0 {
		h.pending = append([]byte(nil), p[len(p)-tail:]...)
		p = p[:len(p)-tail]
	}
	if len(p) > 0 {
		h.eventLocked("o", p)
	}
}

func (h *followHub) resize(cols, rows int) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.cols, h.rows = cols, rows
	h.eventLocked("r", []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

func (h *followHub) marker(line string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.eventLocked("m", []byte(line))
}

func (h *followHub) eventLocked(code string, data []byte) {
	ev := FollowEvent{Elapsed: h.clock.Since(h.started), Code: code}
	if len(data) > followHistory {
		data = data[len(data)-followHistory:]
	}
	cur := 1 - h.oldArena
	if len(h.arenas[cur])+len(data) > followHistory {
		// The older arena's events go; its space takes the new ones.
		drop := 0
		for drop < len(h.history) && h.history[drop].arena == h.oldArena {
			drop++
		}
		h.history = append(h.history[:0], h.history[drop:]...)
		h.oldArena, cur = cur, h.oldArena
		if h.arenas[cur] == nil {
			h.arenas[cur] = make([]byte, 0, followHistory)
		}
		h.arenas[cur] = h.arenas[cur][:0]
	}
	start := len(h.arenas[cur])
	h.arenas[cur] = append(h.arenas[cur], data...)
	ev.Data = h.arenas[cur][start:len(h.arenas[cur]):len(h.arenas[cur])]
	h.history = append(h.history, heldEvent{ev, cur})
	for f := range h.followers {
		out := ev
		out.Data = append([]byte(nil), ev.Data...)
		select {
		case f.events <- out:
		default:
			h.leaveLocked(f, "the follower fell behind the session's output")
		}
	}
}

// follow adds a follower, who is shown the terminal size and the recent
// events first.
func (h *followHub) follow() (*Follower, int, int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, 0, 0, ErrNotFollowable
	}
	f := &Follower{events: make(chan FollowEvent, followerQueue+len(h.history)), hub: h}
	for _, held := range h.history {
		ev := held.FollowEvent
		ev.Data = append([]byte(nil), ev.Data...)
		f.events <- ev
	}
	h.followers[f] = struct{}{}
	return f, h.cols, h.rows, nil
}

func (h *followHub) leave(f *Follower, why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leaveLocked(f, why)
}

func (h *followHub) leaveLocked(f *Follower, why string) {
	if _, ok := h.followers[f]; !ok {
		return
	}
	delete(h.followers, f)
	f.why = why
	close(f.events)
}

// close ends every follower with why the session ended.
func (h *followHub) close(why string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed, h.ended = true, why
	for f := range h.followers {
		h.leaveLocked(f, why)
	}
	h.history, h.arenas = nil, [2][]byte{}
}

// splitRune is how many bytes at the end of p begin a UTF-8 sequence that
// is not complete yet.
func splitRune(p []byte) int {
	for k := 1; k < utf8.UTFMax && k <= len(p); k++ {
		if utf8.RuneStart(p[len(p)-k]) {
			if !utf8.FullRune(p[len(p)-k:]) {
				return k
			}
			return 0
		}
	}
	return 0
}
