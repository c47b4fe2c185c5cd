package session_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/session"
)

// liveOne relays one session, "s-1", and records its terminations.
type liveOne struct{ terminated []string }

func (l *liveOne) Follow(string) (*session.Follower, int, int, error) {
	return nil, 0, 0, session.ErrNotFollowable
}

func (l *liveOne) Terminate(name, why string) error {
	if name != "s-1" {
		return session.ErrSessionNotOpen
	}
	l.terminated = append(l.terminated, why)
	return nil
}

func TestPeerCallsTerminateOnlyALiveSessionWithTheNoticeSent(t *testing.T) {
	live := &liveOne{}
	calls := sessionregistry.PeerCalls(live)
	for _, tc := range []struct {
		name, method, path, body string
		want                     int
	}{
		{"a live session", http.MethodPost, "/sessions/s-1/terminate", "session terminated by carol: INC-9", http.StatusNoContent},
		{"a session not live here", http.MethodPost, "/sessions/s-2/terminate", "session terminated by carol: INC-9", http.StatusNotFound},
		{"no notice", http.MethodPost, "/sessions/s-1/terminate", "", http.StatusBadRequest},
		{"an overlong notice", http.MethodPost, "/sessions/s-1/terminate", strings.Repeat("x", 9<<10), http.StatusBadRequest},
		{"GET on terminate", http.MethodGet, "/sessions/s-1/terminate", "", http.StatusMethodNotAllowed},
		{"POST on attach", http.MethodPost, "/sessions/s-1/attach", "rm -rf /\n", http.StatusMethodNotAllowed},
		{"attach to a session not live here", http.MethodGet, "/sessions/s-1/attach", "", http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			calls.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if w.Code != tc.want {
				t.Errorf("%s %s: %d %q, want %d", tc.method, tc.path, w.Code, w.Body, tc.want)
			}
		})
	}
	if len(live.terminated) != 1 || live.terminated[0] != "session terminated by carol: INC-9" {
		t.Errorf("terminations carried out: %q, want only the live session's, with the notice sent", live.terminated)
	}
}
