package kubectljanus

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestSessionsSelectsByRequestUserClusterAndPhase(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", ""))
	server := httptest.NewServer(api)
	defer server.Close()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sessions"}, ""},
		{[]string{"sessions", "alice-x7k2p"}, "spec.request=alice-x7k2p"},
		{[]string{"sessions", "alice-x7k2p", "--user", "alice", "--cluster", "dev", "--open"}, "spec.cluster=dev,spec.request=alice-x7k2p,spec.user.username=alice,status.phase=Open"},
	} {
		api.queries = nil
		if _, _, code := runAgainst(t, server, tc.args...); code != 0 {
			t.Errorf("%v: exit %d", tc.args, code)
			continue
		}
		q, _ := url.ParseQuery(api.queries[0])
		terms := strings.Split(q.Get("fieldSelector"), ",")
		slices.Sort(terms)
		if got := strings.Join(terms, ","); got != tc.want {
			t.Errorf("%v: field selector %q, want %q", tc.args, got, tc.want)
		}
	}
}

func TestSessionsPrintsTheServersTable(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", ""))
	server := httptest.NewServer(api)
	defer server.Close()

	out, _, _ := runAgainst(t, server, "sessions")
	if want := "NAME             USER    PHASE\nalice-x7k2p-s1   alice   Closed\n"; out != want {
		t.Errorf("sessions printed\n%s\nwant\n%s", out, want)
	}
	out, _, _ = runAgainst(t, server, "sessions", "-o", "wide")
	if want := "NAME             USER    PHASE    END REASON\nalice-x7k2p-s1   alice   Closed   the command exited\n"; out != want {
		t.Errorf("sessions -o wide printed\n%s\nwant\n%s", out, want)
	}
	if out, _, code := runAgainst(t, server, "sessions", "-o", "name"); code != 0 || out != "session.janus.infroware.io/alice-x7k2p-s1\n" {
		t.Errorf("sessions -o name: exit %d, printed %q", code, out)
	}
	if out, _, code := runAgainst(t, server, "sessions", "-o", "jsonpath={.items[0].spec.user.username}"); code != 0 || out != "alice" {
		t.Errorf("sessions -o jsonpath: exit %d, printed %q", code, out)
	}
	if _, stderr, code := runAgainst(t, server, "sessions", "-o", "table"); code != 1 || !strings.Contains(stderr, `unable to match a printer suitable for the output format "table"`) {
		t.Errorf("sessions -o table: exit %d, stderr %q", code, stderr)
	}
}

func TestSessionsWatchPrintsEachChangeUnderOneHeader(t *testing.T) {
	api := newSessionAPI(t, closedSession("alice-x7k2p-s1", ""))
	server := httptest.NewServer(api)
	defer server.Close()
	out, _, code := runAgainst(t, server, "sessions", "-w")
	// Each event is laid out on its own, as kubectl get -w does.
	want := "NAME             USER    PHASE\nalice-x7k2p-s1   alice   Closed\nbob-1-s2   bob   Open\nbob-1-s2   bob   Closed\n"
	if code != 0 || out != want {
		t.Errorf("sessions -w: exit %d, printed\n%s\nwant\n%s", code, out, want)
	}
	q, _ := url.ParseQuery(api.queries[1])
	if q.Get("watch") != "true" || q.Get("resourceVersion") != "7" {
		t.Errorf("the watch asked %v, want watch=true from the list's resourceVersion 7", q)
	}
}

func TestSessionsSaysWhenThereAreNone(t *testing.T) {
	server := httptest.NewServer(newSessionAPI(t))
	defer server.Close()
	if out, stderr, code := runAgainst(t, server, "sessions", "--open"); code != 0 || out != "" || stderr != "No sessions found.\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}
