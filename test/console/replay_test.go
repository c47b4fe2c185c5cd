package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestReplayShowsTheRecordedSession: alice runs a shell in her browser
// terminal and leaves it; her request's page links to the Session, whose
// page shows who ran what where, the recording's size and digest, and
// plays the recording in asciinema-player: its screen, read from the DOM,
// holds what the shell printed. carol, an approver, replays it too; the
// pages break no CSP rule and fit a phone.
func TestReplayShowsTheRecordedSession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "replay: what did I run")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	alice.typeInto(0, "echo replay-$((6*7))-done\r")
	alice.waitLine(0, regexp.MustCompile(`^replay-42-done$`), 10*time.Second)
	open := sessionOf(t, ctx, name, v1alpha1.SessionOpen, 10*time.Second)
	alice.typeInto(0, "exit\r")
	closed := waitSessionClosed(t, ctx, open.Name, 15*time.Second)
	t.Logf("Session %s closed: %q, %d bytes recorded, sha256 %s", closed.Name, closed.Status.EndReason, recordingSize(closed), recordingDigest(closed))

	alice.open("/requests/"+name, fmt.Sprintf(`[data-testid="replay-%s"]`, closed.Name))
	alice.screenshot(pageShots(), "detail-sessions")
	get(alice, "following the session's link", chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const a = document.querySelector(%q); if (a) a.click(); return !!a })()`, `[data-testid="replay-`+closed.Name+`"]`)))
	alice.run("opening the session's page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="replay"]`)))
	if got := alice.text(`[data-testid="session-user"]`); got != "alice" {
		t.Errorf("the session's page names %q, want alice", got)
	}
	if got := alice.text(`[data-testid="session-phase"]`); got != "ended" {
		t.Errorf("the session's page says %q, want ended", got)
	}
	if d := alice.text(`[data-testid="session-digest"]`); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(d) || d != recordingDigest(closed) {
		t.Errorf("the page shows the digest %q, want the Session's %q", d, recordingDigest(closed))
	}
	lines := alice.replayText()
	if !containsLine(lines, "replay-42-done") {
		t.Errorf("the replayed screen lacks the shell's output replay-42-done; it shows:\n%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		t.Logf("replayed: %s", l)
	}
	if !get(alice, "measuring the page", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the replay page is wider than a phone's screen")
	}
	alice.screenshot(pageShots(), "replay-phone")
	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the replay page broke the Content-Security-Policy: %v", v)
	}
	if n := alice.count(`style, script:not([src])`); n != 0 {
		t.Errorf("the replay page holds %d inline style or script elements", n)
	}

	carol := newBrowser(t, "carol")
	carol.watchPages()
	carol.signIn("carol")
	carol.run("a wide window", chromedp.EmulateViewport(1280, 800))
	carol.open("/sessions?request="+name, fmt.Sprintf(`[data-testid="session-%s"]`, closed.Name))
	carol.screenshot(pageShots(), "sessions-list")
	if got := carol.text(`nav a[aria-current="page"]`); got != "Sessions" {
		t.Errorf("the sessions list marks %q in the navigation, want Sessions", got)
	}
	carol.open("/sessions/"+closed.Name, `[data-testid="replay"]`)
	if lines := carol.replayText(); !containsLine(lines, "replay-42-done") {
		t.Errorf("carol's replay lacks replay-42-done; it shows:\n%s", strings.Join(lines, "\n"))
	}
	carol.screenshot(pageShots(), "replay-wide")
	if v := carol.cspViolations(); len(v) > 0 {
		t.Errorf("carol's replay page broke the Content-Security-Policy: %v", v)
	}
}

// TestReplayOfAnotherPersonsRecordingIsForbidden: bob runs a command
// under a request of his own; alice, a requester who is neither its user
// nor an approver or auditor, opens its page and sees the API's 403, and
// none of what bob's command printed.
func TestReplayOfAnotherPersonsRecordingIsForbidden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := liveRequest(t, ctx, "bob", "replay: bob's own session")
	t.Cleanup(func() { liveWithdraw(t, "bob", name) })
	clock := watchPhases(t, ctx, name, v1alpha1.AccessRequestActive)
	if _, err := liveClient(t, "carol").JanusV1alpha1().AccessRequests().Approve(ctx, name, &v1alpha1.Approval{Reason: "replay test"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("approving %s as carol: %v", name, err)
	}
	clock.at(t, v1alpha1.AccessRequestActive, 30*time.Second)
	// Printed, not typed: the command line (which the Session's summary
	// shows) does not hold it.
	const secret = "bob-only-7003"
	if out := execAs(t, ctx, "bob", name, "sh", "-c", "echo bob-only-$((7000+3))"); !strings.Contains(out, secret) {
		t.Fatalf("bob's command printed %q", out)
	}
	s := sessionOf(t, ctx, name, v1alpha1.SessionClosed, 15*time.Second)

	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.run("opening bob's session", chromedp.Navigate(consoleURL+"/sessions/"+s.Name))
	alice.waitJS("the API's answer on the page", `!!document.querySelector('[data-testid="api-error"]') || !!(window.janusReplay && window.janusReplay.error)`, 15*time.Second)
	var shown string
	if alice.exists(`[data-testid="api-error"]`) {
		shown = alice.text(`[data-testid="api-error"]`)
	} else {
		shown = alice.text(`[data-testid="recording-error"]`)
	}
	t.Logf("alice opening bob's recording sees: %q", shown)
	if !strings.Contains(shown, "403 Forbidden") || !strings.Contains(shown, "alice") {
		t.Errorf("alice sees %q, want the API's 403 naming her", shown)
	}
	if body := alice.text(`main`); strings.Contains(body, secret) {
		t.Error("alice's page shows what bob's command printed")
	}
	if alice.exists(`[data-testid="player"] .ap-term-text`) {
		t.Error("alice's page built a player for bob's recording")
	}
	alice.screenshot(pageShots(), "replay-forbidden")
	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the forbidden replay page broke the Content-Security-Policy: %v", v)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) == want {
			return true
		}
	}
	return false
}

func recordingSize(s *v1alpha1.Session) int64 {
	if s.Status.Recording == nil {
		return 0
	}
	return s.Status.Recording.Size
}

func recordingDigest(s *v1alpha1.Session) string {
	if s.Status.Recording == nil {
		return ""
	}
	return s.Status.Recording.SHA256
}
