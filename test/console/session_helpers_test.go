package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// sessionOf waits until request has a Session in phase (as admin reads
// it) and returns the newest such.
func sessionOf(t testing.TB, ctx context.Context, request string, phase v1alpha1.SessionPhase, timeout time.Duration) *v1alpha1.Session {
	t.Helper()
	return sessionIn(t, ctx, liveClient(t, "admin"), request, phase, timeout)
}

// sessionIn is sessionOf as admin reads it with client.
func sessionIn(t testing.TB, ctx context.Context, admin versioned.Interface, request string, phase v1alpha1.SessionPhase, timeout time.Duration) *v1alpha1.Session {
	t.Helper()
	var found *v1alpha1.Session
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		list, err := admin.JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, request).String(),
		})
		if err != nil {
			return false, err
		}
		for i := range list.Items {
			s := &list.Items[i]
			if s.Status.Phase == phase && (found == nil || s.CreationTimestamp.After(found.CreationTimestamp.Time)) {
				found = s
			}
		}
		return found != nil, nil
	})
	if err != nil {
		t.Fatalf("no %s Session of %s within %s: %v", phase, request, timeout, err)
	}
	return found
}

// waitSessionClosed waits until the Session called name is Closed.
func waitSessionClosed(t testing.TB, ctx context.Context, name string, timeout time.Duration) *v1alpha1.Session {
	t.Helper()
	return sessionClosedIn(t, ctx, liveClient(t, "admin"), name, timeout)
}

// sessionClosedIn is waitSessionClosed as admin reads it with client.
func sessionClosedIn(t testing.TB, ctx context.Context, admin versioned.Interface, name string, timeout time.Duration) *v1alpha1.Session {
	t.Helper()
	var s *v1alpha1.Session
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		s, err = admin.JanusV1alpha1().Sessions().Get(ctx, name, metav1.GetOptions{})
		return err == nil && s.Status.Phase == v1alpha1.SessionClosed, nil
	})
	if err != nil {
		t.Fatalf("Session %s did not close within %s: %v", name, timeout, err)
	}
	return s
}

// castEvent is one event line of an asciicast v2 document.
type castEvent struct {
	Time float64
	Code string
	Data string
}

// recordingAs reads the Session's recording as user through the API
// (sessions/NAME/recording) and parses its event lines.
func recordingAs(t testing.TB, ctx context.Context, user, name string) (header map[string]any, events []castEvent) {
	t.Helper()
	raw, err := liveClient(t, user).JanusV1alpha1().RESTClient().Get().Resource("sessions").Name(name).SubResource("recording").DoRaw(ctx)
	if err != nil {
		t.Fatalf("reading the recording of %s as %s: %v", name, user, err)
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if err := json.Unmarshal([]byte(lines[0]), &header); err != nil {
		t.Fatalf("the recording of %s starts with %q, not an asciicast header: %v", name, lines[0], err)
	}
	for _, l := range lines[1:] {
		var ev []any
		if err := json.Unmarshal([]byte(l), &ev); err != nil || len(ev) != 3 {
			t.Fatalf("the recording of %s holds the line %q, not an event: %v", name, l, err)
		}
		tm, _ := ev[0].(float64)
		code, _ := ev[1].(string)
		data, _ := ev[2].(string)
		events = append(events, castEvent{tm, code, data})
	}
	return header, events
}

// execAs runs command in the demo pod through request as user, the way
// kubectl janus exec does (client-go's websocket executor, no tty), and
// returns its output.
func execAs(t testing.TB, ctx context.Context, user, request string, command ...string) string {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {demoPod}, "command": command, "stdout": {"true"}, "stderr": {"true"}}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+"/apis/janus.infroware.io/v1alpha1/accessrequests/"+request+"/exec?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}); err != nil {
		t.Fatalf("running %v as %s under %s: %v (output %q)", command, user, request, err, out.String())
	}
	return out.String()
}

// replayText waits until the replay page's player is built, moves it to
// the recording's end and returns the text of its terminal, line by line.
func (b *browser) replayText() []string {
	b.t.Helper()
	b.waitJS("the player built", `!!(window.janusReplay && (window.janusReplay.player || window.janusReplay.error))`, 15*time.Second)
	if e := get(b, "reading the replay's error", chromedp.Evaluate[string](`window.janusReplay.error ? JSON.stringify(window.janusReplay.error) : ''`)); e != "" {
		b.t.Fatalf("the replay page could not play the recording: %s", e)
	}
	get(b, "seeking to the end", chromedp.Evaluate[bool](`(window.janusReplay.player.seek('100%'), true)`))
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines = get(b, "reading the player's screen", chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="player"] .ap-term-text .ap-line')].map(l => l.textContent.trimEnd())`))
		if strings.TrimSpace(strings.Join(lines, "")) != "" || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(50 * time.Millisecond) // polling the player's rendering, bounded by the deadline
	}
}

// followLines is the follow page's xterm buffer, line by line (a line the
// terminal wrapped joined again), read through xterm's API.
func (b *browser) followLines() []string {
	b.t.Helper()
	return get(b, "reading the followed terminal", chromedp.Evaluate[[]string](`(() => {
  const buf = janusFollow.term.buffer.active, lines = [];
  for (let y = 0; y < buf.length; y++) {
    const line = buf.getLine(y), text = line.translateToString(true);
    if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text; else lines.push(text);
  }
  return lines;
})()`))
}

// stampLine records in the page when a line of the xterm terminal that
// termExpr names first reads want exactly (xterm's onWriteParsed, so the
// moment the output was shown, not when the test looked).
func (b *browser) stampLine(key, termExpr, want string) {
	b.t.Helper()
	get(b, "watching the terminal for "+want, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  window.__stamps = window.__stamps || {};
  const key = %q, want = %q, term = %s;
  const check = () => {
    if (window.__stamps[key]) return;
    const buf = term.buffer.active;
    for (let y = 0; y < buf.length; y++) {
      if (buf.getLine(y).translateToString(true).trim() === want) { window.__stamps[key] = performance.timeOrigin + performance.now(); return; }
    }
  };
  term.onWriteParsed(check);
  check();
  return true;
})()`, key, want, termExpr)))
}
