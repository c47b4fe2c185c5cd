package console

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// sseEvent is one Server-Sent Event as a browser would dispatch it.
type sseEvent struct{ id, name, data string }

// liveStream is one GET /live read as a browser's EventSource would.
type liveStream struct {
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
}

// openLive opens /live?query with session (nil: none) and, if not empty,
// Last-Event-ID, without following redirects.
func openLive(t testing.TB, session *network.Cookie, query, lastEventID string) *liveStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, consoleURL+"/live?"+query, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if session != nil {
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	}
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("GET /live?%s: %v", query, err)
	}
	s := &liveStream{resp: resp, events: make(chan sseEvent, 64), cancel: cancel}
	t.Cleanup(s.close)
	if resp.StatusCode == http.StatusOK {
		go s.read()
	}
	return s
}

func (s *liveStream) close() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// read parses the stream as the EventSource specification says, closing
// events at the end.
func (s *liveStream) read() {
	defer close(s.events)
	r := bufio.NewReader(s.resp.Body)
	var ev sseEvent
	var data []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if len(data) > 0 {
				ev.data = strings.Join(data, "\n")
				s.events <- ev
			}
			ev, data = sseEvent{id: ev.id}, nil
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		}
	}
}

// next waits for the next event called name, skipping ticks.
func (s *liveStream) next(t testing.TB, name string, timeout time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case ev, open := <-s.events:
			if !open {
				t.Fatalf("the stream ended before a %q event", name)
			}
			if ev.name == name {
				return ev
			}
			if ev.name != "tick" {
				t.Fatalf("got a %q event (%q), want %q", ev.name, ev.data, name)
			}
		case <-deadline:
			t.Fatalf("no %q event within %s", name, timeout)
		}
	}
}

// ended waits for the stream to end.
func (s *liveStream) ended(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, open := <-s.events:
			if !open {
				return
			}
		case <-deadline:
			t.Fatalf("the stream did not end within %s", timeout)
		}
	}
}

// TestLiveStream: GET /live against the real API, as the page's
// EventSource sees it: the headers; a change to alice's requests is a
// "changed" event whose id resumes a reconnecting stream past what it
// missed; a too-old resourceVersion makes the page re-fetch; dave, whom
// RBAC does not let list requests, gets "ended" with the API's 403 and the
// stream closes; bad input is a 400; a person's streams are bounded (429);
// without a session the stream is not served.
func TestLiveStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sessionOf := func(user string) *network.Cookie {
		b := newBrowser(t, user)
		b.signIn(user)
		c := b.sessionCookie()
		if c == nil {
			t.Fatalf("%s has no session cookie after signing in", user)
		}
		return c
	}
	alice, dave, carol := sessionOf("alice"), sessionOf("dave"), sessionOf("carol")

	s := openLive(t, alice, "scope=mine", "")
	if s.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /live?scope=mine as alice: %s", s.resp.Status)
	}
	for h, want := range map[string]string{"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"} {
		if got := s.resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	name := liveRequest(t, ctx, "alice", "live stream: a change to see")
	created := s.next(t, "changed", 5*time.Second)
	if created.id == "" {
		t.Fatal("the changed event has no id to resume from")
	}
	s.close()

	// Missed while no stream was open, caught up on reconnecting.
	liveWithdraw(t, "alice", name)
	// Last-Event-ID wins over the rv the page was first given.
	resumed := openLive(t, alice, "scope=mine&rv=1", created.id)
	if ev := resumed.next(t, "changed", 5*time.Second); ev.id == "" || ev.id == created.id {
		t.Errorf("the resumed stream's change has id %q, want the withdrawal's, after %s", ev.id, created.id)
	}
	resumed.close()

	// A resourceVersion the API no longer serves: re-fetch, then go on.
	stale := openLive(t, alice, "scope=request&name="+name+"&rv=1", "")
	if ev := stale.next(t, "changed", 5*time.Second); ev.id != "" {
		t.Errorf("the stale stream's first change has id %q, want none: a re-fetch after re-listing", ev.id)
	}
	stale.close()

	refused := openLive(t, dave, "scope=all", "")
	if refused.resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /live as dave: %s", refused.resp.Status)
	}
	ended := refused.next(t, "ended", 5*time.Second)
	if !strings.Contains(ended.data, "403") || !strings.Contains(ended.data, "dave") {
		t.Errorf("dave's stream ended with %q, want the API's 403 naming dave", ended.data)
	}
	refused.ended(t, 5*time.Second)

	for query, want := range map[string]string{
		"scope=everything":         `scope: Unsupported value: "everything"`,
		"scope=request&name=..%2F": `name: Invalid value`,
	} {
		bad := openLive(t, alice, query, "")
		body, _ := io.ReadAll(bad.resp.Body)
		if bad.resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), want) {
			t.Errorf("GET /live?%s: %s %q, want 400 saying %q", query, bad.resp.Status, body, want)
		}
	}

	// carol's own browser may still hold the stream of the page it showed.
	var held []*liveStream
	var over *liveStream
	for range 9 {
		s := openLive(t, carol, "scope=all", "")
		if s.resp.StatusCode != http.StatusOK {
			over = s
			break
		}
		held = append(held, s)
	}
	if over == nil || len(held) < 7 {
		t.Fatalf("carol opened %d streams before one was refused, want the eighth refused (7 when her browser holds one)", len(held))
	}
	if over.resp.StatusCode != http.StatusTooManyRequests || over.resp.Header.Get("Retry-After") == "" {
		t.Errorf("carol's stream beyond the limit: %s (Retry-After %q), want 429 with Retry-After", over.resp.Status, over.resp.Header.Get("Retry-After"))
	}
	held[0].close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		again := openLive(t, carol, "scope=all", "")
		if again.resp.StatusCode == http.StatusOK {
			break
		}
		again.close()
		if time.Now().After(deadline) {
			t.Fatalf("carol still refused a stream (%s) 5s after closing one", again.resp.Status)
		}
		time.Sleep(50 * time.Millisecond) // the console sees the closed connection shortly; bounded by the deadline
	}
	for _, s := range held {
		s.close()
	}

	anonymous := openLive(t, nil, "scope=all", "")
	if anonymous.resp.StatusCode != http.StatusFound {
		t.Errorf("GET /live without a session: %s, want 302 to sign in", anonymous.resp.Status)
	}
}
