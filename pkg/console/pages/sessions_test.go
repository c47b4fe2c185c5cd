package pages

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/web"
)

// hostile is what a user may put in a command or reason.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>`

func sessionRenderer(t *testing.T, now time.Time) *renderer {
	t.Helper()
	r, err := newRenderer(web.FS, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if err := r.addSessionPages(web.FS); err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSessionPagesEscapeWhatUsersWrote renders the replay, follow and
// session list pages, and the Approvals page's live sessions, with a
// command and an end reason holding markup: the pages show it as text.
func TestSessionPagesEscapeWhatUsersWrote(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)
	r := sessionRenderer(t, now)
	open := sessionView{
		ID: "req-1-a", Request: "req-1", Cluster: "dev", User: "alice", Pod: "payments/api-0", Command: hostile,
		Phase: v1alpha1.SessionOpen, StartedAt: now.Add(-3 * time.Minute), Duration: "3m", CanFollow: true,
		Recorded: true, Format: "asciicast-v2", Size: 1234,
	}
	closed := open
	closed.ID, closed.Phase, closed.EndedAt, closed.EndReason, closed.CanFollow, closed.SHA256 = "req-1-b", v1alpha1.SessionClosed, now, "terminated by carol: "+hostile, false, "ab12"
	for _, tc := range []struct {
		page string
		data any
		want []string
	}{
		{"replay", replayView{sessionView: closed, Recording: "/sessions/req-1-b/recording"}, []string{
			`data-recording="/sessions/req-1-b/recording"`, `src="/static/vendor/asciinema-player.min.js"`,
			`data-testid="session-digest">ab12<`, `asciicast-v2, 1234 bytes`, `Dec 2 03:27:00 UTC`,
		}},
		{"follow", followView{sessionView: open, Stream: "/sessions/req-1-a/follow/stream", State: "/sessions/req-1-a/state"}, []string{
			`data-stream="/sessions/req-1-a/follow/stream"`, `action="/sessions/req-1-a/terminate"`, `name="reason" required`,
		}},
		{"sessions", sessionList{Sessions: []sessionView{open, closed}, Filter: "request req-1"}, []string{
			`data-testid="watch-req-1-a"`, `href="/sessions/req-1-b"`, `Only request req-1.`,
		}},
		{"approvals", struct {
			QueueHidden     bool
			Pending, Active []requestView
			LiveSessions    []sessionView
			SessionsError   *APIError
		}{LiveSessions: []sessionView{open}}, []string{`data-testid="live-req-1-a"`, `href="/sessions/req-1-a/follow"`}},
	} {
		w := httptest.NewRecorder()
		r.render(w, 200, tc.page, page{Title: "t", User: signin.Identity{Username: "carol"}, Data: tc.data})
		body := w.Body.String()
		if w.Code != 200 {
			t.Fatalf("%s: rendering gave %d: %s", tc.page, w.Code, body)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: the command or reason reached the page as markup", tc.page)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: the command is not shown as text", tc.page)
		}
		for _, want := range tc.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the page lacks %s", tc.page, want)
			}
		}
	}
}

// TestAllowWebAssemblyAddsOnlyWasm: the replay page's policy is the
// console's with 'wasm-unsafe-eval' in script-src, nothing else.
func TestAllowWebAssemblyAddsOnlyWasm(t *testing.T) {
	const csp = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'"
	w := httptest.NewRecorder()
	w.Header().Set("Content-Security-Policy", csp)
	allowWebAssembly(w)
	if got, want := w.Header().Get("Content-Security-Policy"), "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; object-src 'none'"; got != want {
		t.Errorf("the replay page's policy is %q, want %q", got, want)
	}
	w = httptest.NewRecorder()
	allowWebAssembly(w)
	if got := w.Header().Get("Content-Security-Policy"); got != "" {
		t.Errorf("with no policy set, the replay page sets %q", got)
	}
}
