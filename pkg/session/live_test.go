package session

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	testingclock "k8s.io/utils/clock/testing"
)

// TestFollowerSeesTheSessionAndCannotTouchIt: a follower is shown the
// session's recent output and then what follows, never its input, and
// ends when the session does; terminate cuts exactly that session with
// the approver's words on the user's terminal.
func TestFollowerSeesTheSessionAndTerminateCutsIt(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=cat&stdin=true&stdout=true&stderr=true")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")

	name := RecordingID(spec())
	if _, _, _, err := u.engine.Follow("req-other"); !errors.Is(err, ErrNotFollowable) {
		t.Errorf("following a session that does not run: %v, want ErrNotFollowable", err)
	}
	f, cols, rows, err := u.engine.Follow(name)
	if err != nil {
		t.Fatalf("following %s: %v", name, err)
	}
	if cols != 80 || rows != 24 {
		t.Errorf("terminal size %dx%d, want the default 80x24 before any resize", cols, rows)
	}
	if ev := next(t, f); ev.Code != "o" || string(ev.Data) != "a" {
		t.Errorf("the follower's first event %+v, want the recent output a", ev)
	}
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'b'})
	expectChannel(t, conn, channelStdout, "b")
	if ev := next(t, f); ev.Code != "o" || string(ev.Data) != "b" {
		t.Errorf("the follower's next event %+v, want the live output b", ev)
	}

	if err := u.engine.Terminate("req-other", "no"); !errors.Is(err, ErrSessionNotOpen) {
		t.Errorf("terminating a session that does not run: %v, want ErrSessionNotOpen", err)
	}
	if err := u.engine.Terminate(name, "terminated by carol: INC-1 is over"); err != nil {
		t.Fatal(err)
	}
	expectChannel(t, conn, channelStderr, "\r\njanus: terminated by carol: INC-1 is over\r\n")
	expectFailure(t, conn, "janus: terminated by carol: INC-1 is over")
	s := obs.wait(t)
	if s.Reason != "terminated by carol: INC-1 is over" || !s.Cut {
		t.Errorf("summary %+v, want a cut with the approver's reason", s)
	}
	var seen []string
	for ev := range f.Events() {
		seen = append(seen, ev.Code+":"+string(ev.Data))
	}
	if want := "m:janus: terminated by carol: INC-1 is over"; len(seen) == 0 || !contains(seen, want) {
		t.Errorf("the follower saw %q, want the termination marker %q", seen, want)
	}
	if f.Ended() != "terminated by carol: INC-1 is over" {
		t.Errorf("the follower was told %q, want the session's end", f.Ended())
	}
	if err := u.engine.Terminate(name, "again"); !errors.Is(err, ErrSessionNotOpen) {
		t.Errorf("terminating an ended session: %v, want ErrSessionNotOpen", err)
	}
}

func next(t *testing.T, f *Follower) FollowEvent {
	t.Helper()
	select {
	case ev, ok := <-f.Events():
		if !ok {
			t.Fatalf("the follower was let go: %s", f.Ended())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event for the follower")
	}
	return FollowEvent{}
}

func TestFollowHubKeepsBoundedHistoryAndDropsSlowFollowers(t *testing.T) {
	h := newFollowHub(testingclock.NewFakeClock(time.Now()))
	for i := range 1000 {
		h.output([]byte(fmt.Sprintf("line %04d %s\r\n", i, bytes.Repeat([]byte("x"), 200))))
	}
	h.resize(120, 40)
	f, cols, rows, err := h.follow()
	if err != nil {
		t.Fatal(err)
	}
	if cols != 120 || rows != 40 {
		t.Errorf("size %dx%d, want the last resize 120x40", cols, rows)
	}
	var history []byte
	n := len(f.events)
	for range n {
		ev := <-f.events
		if ev.Code == "o" {
			history = append(history, ev.Data...)
		}
	}
	if len(history) < followHistory/2 || len(history) > 2*followHistory {
		t.Errorf("a new follower is shown %d bytes of history, want between %d and %d", len(history), followHistory/2, 2*followHistory)
	}
	if !bytes.HasSuffix(history, []byte("line 0999 "+string(bytes.Repeat([]byte("x"), 200))+"\r\n")) {
		t.Errorf("the history does not end with the last line: ...%q", history[max(0, len(history)-40):])
	}
	// A split UTF-8 sequence reaches the follower whole.
	h.output([]byte{0xe2, 0x82})
	h.output([]byte{0xac})
	if ev := <-f.events; string(ev.Data) != "€" {
		t.Errorf("a rune split over two frames reached the follower as %q", ev.Data)
	}
	// One that never reads is let go; the session is not held up.
	room := cap(f.events)
	for i := range room + 10 {
		h.output([]byte{byte('a' + i%26)})
	}
	drained := 0
	for range f.events {
		drained++
	}
	if drained != room || f.Ended() == "" {
		t.Errorf("a follower that did not read got %d events and was told %q; want %d and a reason", drained, f.Ended(), room)
	}
	h.close("command ended")
	if _, _, _, err := h.follow(); !errors.Is(err, ErrNotFollowable) {
		t.Errorf("following an ended session: %v", err)
	}
}
