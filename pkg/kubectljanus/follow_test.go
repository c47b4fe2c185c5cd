package kubectljanus

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestFollowShowsTheStreamThenWhyTheSessionEnded: follow writes the
// output as it comes, with notices on their own lines and keystrokes
// left out, and once the stream ends says why from the closed Session.
func TestFollowShowsTheStreamThenWhyTheSessionEnded(t *testing.T) {
	const name = "alice-x7k2p-s1"
	api := newSessionAPI(t, openSessionObject(name))
	api.follow[name] = func(w io.Writer) {
		for _, line := range []string{castHeader(name), `[0.1, "o", "recent\r\n"]`, `[5, "i", "typed"]`, `[6, "o", "live"]`,
			`[7, "m", "janus: session terminated by bob: \u001b[2Jenough"]`} {
			_, _ = io.WriteString(w, line+"\n")
		}
	}
	api.afterFollow = func(name string) {
		ended := metav1.NewTime(time.Date(2026, 1, 1, 12, 3, 0, 0, time.UTC))
		api.mu.Lock()
		defer api.mu.Unlock()
		se := api.sessions[name]
		se.Status.Phase, se.Status.EndedAt, se.Status.EndReason = v1alpha1.SessionClosed, &ended, "terminated by bob: \x1b[2Jenough"
	}
	server := httptest.NewServer(api)
	defer server.Close()
	out, stderr, code := runAgainst(t, server, "follow", name)
	if want := "recent\r\nlive\n[janus: session terminated by bob: ^[[2Jenough]\n"; code != 0 || out != want {
		t.Errorf("exit %d, printed %q, want %q", code, out, want)
	}
	if want := "session alice-x7k2p-s1 ended: terminated by bob: ^[[2Jenough (at 2026-01-01T12:03:00Z)\n"; stderr != want {
		t.Errorf("stderr %q, want %q", stderr, want)
	}
}

func TestFollowOfAClosedSessionPointsToPlay(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", ""))
	server := httptest.NewServer(api)
	defer server.Close()
	_, stderr, code := runAgainst(t, server, "follow", "alice-x7k2p-s1")
	want := "error: session alice-x7k2p-s1 is closed: the command exited\nReplay it with 'kubectl janus play alice-x7k2p-s1'.\n"
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// TestFollowThatEndsWhileTheSessionIsOpenFails: the server lets a
// follower go that falls behind; follow says so rather than exit 0.
func TestFollowThatEndsWhileTheSessionIsOpenFails(t *testing.T) {
	const name = "alice-x7k2p-s1"
	api := newSessionAPI(t, openSessionObject(name))
	api.follow[name] = func(w io.Writer) { _, _ = io.WriteString(w, castHeader(name)+`[0.1, "o", "x"]`+"\n") }
	server := httptest.NewServer(api)
	defer server.Close()
	var out, errOut strings.Builder
	f := &followOptions{Options: testOptions(t, server, &out, &errOut), name: name, terminal: func(any) bool { return false }, closedWait: 300 * time.Millisecond}
	err := f.run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "the server ended following session alice-x7k2p-s1, which is still open") {
		t.Errorf("follow ended with %v", err)
	}
}

// TestFollowTriesAgainWhileTheRelayingReplicaIsUnreachable: a replica
// that cannot reach the one relaying the session answers 503; follow
// tries again a few times, then shows the last 503.
func TestFollowTriesAgainWhileTheRelayingReplicaIsUnreachable(t *testing.T) {
	const name = "alice-x7k2p-s1"
	api := newSessionAPI(t, openSessionObject(name))
	api.follow[name] = func(w io.Writer) { _, _ = io.WriteString(w, castHeader(name)+`[0.1, "o", "live"]`+"\n") }
	api.afterFollow = func(name string) {
		api.mu.Lock()
		defer api.mu.Unlock()
		api.sessions[name].Status.Phase = v1alpha1.SessionClosed
	}
	refusals := 2
	elsewhere := apierrors.NewServiceUnavailable(`session alice-x7k2p-s1 is relayed by janus-apiserver replica "janus-1", which this replica cannot reach (dial tcp 10.0.0.7:8132: connect: connection refused); if that replica is gone, the session is closed when it starts again or, with heartbeat Leases, once its Lease lapses`)
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/attach") && refusals > 0 {
			refusals--
			writeStatus(w, elsewhere)
			return
		}
		api.ServeHTTP(w, r)
	}))
	defer server.Close()
	var out, errOut strings.Builder
	f := &followOptions{Options: testOptions(t, server, &out, &errOut), name: name, terminal: func(any) bool { return false },
		closedWait: time.Second, retryWait: time.Millisecond}
	if err := f.run(t.Context()); err != nil || out.String() != "live" {
		t.Errorf("follow after two 503s: %v, printed %q", err, out.String())
	}

	refusals = 100
	api.sessions[name].Status.Phase = v1alpha1.SessionOpen
	err := f.run(t.Context())
	if msg, _ := errorMessage(err); !strings.Contains(msg, `Error from server (ServiceUnavailable): session alice-x7k2p-s1 is relayed by janus-apiserver replica "janus-1"`) {
		t.Errorf("follow that never reached the replica: %q", msg)
	}
}
