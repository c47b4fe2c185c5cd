package console

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestFollowWatchesAndTerminatesASession: bob, an approver of dev, has
// the Approvals page open when alice opens a shell; the page lists her
// session under Live sessions without a reload, and Watch opens it in a
// read-only terminal. What alice's shell prints shows on bob's page within
// a second of showing on hers. What bob types into his terminal goes
// nowhere: his page sends nothing, alice's shell runs nothing, and the
// recording holds no input. bob terminates the session with a reason:
// alice's terminal shows it, and the Session records it.
func TestFollowWatchesAndTerminatesASession(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "follow: payments-api is on fire")

	bob := newBrowser(t, "bob")
	bob.watchPages()
	bob.signIn("bob")
	bob.open("/approvals", `#live-sessions-heading`)
	bob.liveReady()

	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	s := sessionOf(t, ctx, name, v1alpha1.SessionOpen, 10*time.Second)

	watch := fmt.Sprintf(`[data-testid="live-%s"] [data-testid="watch-%s"]`, s.Name, s.Name)
	bob.waitJS("alice's session listed live on bob's Approvals page", fmt.Sprintf(`!!document.querySelector(%q)`, watch), 10*time.Second)
	bob.screenshot(pageShots(), "approvals-live-sessions")
	get(bob, "clicking Watch", chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const a = document.querySelector(%q); if (a) a.click(); return !!a })()`, watch)))
	bob.run("opening the follow page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="follow-term"] .xterm`)))
	bob.waitJS("the follow stream live", `window.janusFollow && document.querySelector('[data-testid="follow-state"]').textContent === 'live'`, 10*time.Second)

	// The latency: from alice's screen to bob's, both stamped by xterm's
	// onWriteParsed on this machine's one clock.
	for i := 0; i < 3; i++ {
		want := fmt.Sprintf("follow-%d", 1000+i)
		alice.stampLine(want, `janusTerminals[0].term`, want)
		bob.stampLine(want, `janusFollow.term`, want)
		alice.typeInto(0, fmt.Sprintf("echo follow-$((1000+%d))\r", i))
		shownToAlice := alice.stamp(want, 10*time.Second)
		shownToBob := bob.stamp(want, 5*time.Second)
		lag := shownToBob.Sub(shownToAlice)
		t.Logf("%s: on alice's terminal at %s, on bob's follow page %s later", want, shownToAlice.Format("15:04:05.000"), lag.Round(time.Millisecond))
		if lag > time.Second {
			t.Errorf("%s reached bob's follow page %s after alice's terminal, want within 1s", want, lag.Round(time.Millisecond))
		}
	}
	bob.screenshot(pageShots(), "follow-phone")

	// bob types a command into his read-only terminal.
	touched := filepath.Join(t.TempDir(), "typed-by-bob")
	requests := func() int {
		return get(bob, "counting the page's requests", chromedp.Evaluate[int](`performance.getEntriesByType('resource').length`))
	}
	beforeRequests, beforeBytes := requests(), get(bob, "counting the output", chromedp.Evaluate[int](`janusFollow.outputBytes`))
	bob.run("typing into the followed terminal",
		chromedp.Focus(chromedp.CSS(`[data-testid="follow-term"] .xterm-helper-textarea`)),
		chromedp.KeyEvent("touch "+touched+kb.Enter))
	// alice's shell would echo and run it at once; give it that long.
	alice.typeInto(0, "echo after-$((2+2))\r")
	alice.waitLine(0, regexp.MustCompile(`^after-4$`), 10*time.Second)
	if _, err := os.Stat(touched); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("what bob typed ran in alice's session: %v", err)
	}
	for _, l := range alice.termLines(0) {
		if strings.Contains(l, "typed-by-bob") {
			t.Errorf("what bob typed shows in alice's terminal: %q", l)
		}
	}
	if n := requests(); n != beforeRequests {
		t.Errorf("bob's follow page made %d requests after he typed", n-beforeRequests)
	}
	bob.waitJS("alice's after-4 on bob's page", `janusFollow.term.buffer.active.length > 0 && (() => { const b = janusFollow.term.buffer.active; for (let y = 0; y < b.length; y++) if (b.getLine(y).translateToString(true).trim() === 'after-4') return true; return false })()`, 5*time.Second)
	if after := get(bob, "counting the output", chromedp.Evaluate[int](`janusFollow.outputBytes`)); after <= beforeBytes {
		t.Errorf("bob's page received no output after alice typed (%d bytes before, %d after)", beforeBytes, after)
	}
	for _, l := range bob.followLines() {
		if strings.Contains(l, "typed-by-bob") {
			t.Errorf("what bob typed shows in his own follow terminal: %q", l)
		}
	}

	// bob terminates it with a reason.
	const why = "follow test: INC-9 contained, hands off"
	bob.run("giving a reason to terminate", chromedp.SendKeys(chromedp.CSS(`#terminate-reason`), why))
	bob.submit("terminating alice's session", `[data-testid="terminate"]`, `[data-testid="replay"]`)
	alice.waitLine(0, regexp.MustCompile(regexp.QuoteMeta(why)), 5*time.Second)
	alice.waitJS("alice's pane ended", `janusTerminals[0].ended === true`, 5*time.Second)
	t.Logf("alice's pane says: %q", alice.text(`[data-testid="ended-why"]`))
	alice.screenshot(pageShots(), "follow-terminated-user")
	if notice := bob.text(`[data-testid="notice"]`); !strings.Contains(notice, "terminated") {
		t.Errorf("bob's page after terminating says %q", notice)
	}
	closed := waitSessionClosed(t, ctx, s.Name, 10*time.Second)
	t.Logf("the Session ended: %q", closed.Status.EndReason)
	if !strings.Contains(closed.Status.EndReason, why) || !strings.Contains(closed.Status.EndReason, "bob") {
		t.Errorf("the Session's end reason is %q, want bob and his reason", closed.Status.EndReason)
	}
	bob.eventually("/sessions/"+s.Name, `[data-testid="replay"]`, 10*time.Second, "the session's page showing the end reason", func() bool {
		return bob.exists(`[data-testid="session-end-reason"]`) && strings.Contains(bob.text(`[data-testid="session-end-reason"]`), why)
	})

	_, events := recordingAs(t, ctx, "carol", s.Name)
	var markers []string
	for _, ev := range events {
		switch ev.Code {
		case "i":
			t.Errorf("the recording holds input: %q", ev.Data)
		case "m":
			markers = append(markers, ev.Data)
		}
		if strings.Contains(ev.Data, "typed-by-bob") {
			t.Errorf("the recording holds what bob typed: %v", ev)
		}
	}
	t.Logf("the recording's notices: %q", markers)
	// The replay shows Janus's notices on the player's timeline and as
	// text below it.
	lines := bob.replayText()
	if !containsLine(lines, "follow-1000") {
		t.Errorf("the replay lacks follow-1000; it shows:\n%s", strings.Join(lines, "\n"))
	}
	if n := bob.count(`[data-testid="player"] .ap-marker-container`); n != len(markers) {
		t.Errorf("the player's timeline shows %d markers, the recording holds %d", n, len(markers))
	}
	if n := bob.count(`[data-testid="markers"] li`); n != len(markers) {
		t.Errorf("the page lists %d notices, the recording holds %d", n, len(markers))
	}
	bob.screenshot(pageShots(), "replay-terminated")
	if v := bob.cspViolations(); len(v) > 0 {
		t.Errorf("bob's pages broke the Content-Security-Policy: %v", v)
	}
}

// TestFollowIsForApproversOnly: alice, whose session it is but who
// approves nothing, opens its follow page: the page shows the API's 403
// and offers no Terminate; her forged termination is refused by the API.
func TestFollowIsForApproversOnly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "follow: not for requesters")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	s := sessionOf(t, ctx, name, v1alpha1.SessionOpen, 10*time.Second)

	watcher := newBrowser(t, "alice-second-tab")
	watcher.watchPages()
	watcher.signIn("alice")
	watcher.open("/sessions/"+s.Name+"/follow", `[data-testid="follow"]`)
	watcher.waitJS("the API's answer", `window.janusFollow && !!janusFollow.error`, 10*time.Second)
	shown := watcher.text(`[data-testid="follow-error"]`)
	t.Logf("alice following her own session sees: %q", shown)
	if !strings.Contains(shown, "403 Forbidden") {
		t.Errorf("alice's follow page says %q, want the API's 403", shown)
	}
	if watcher.exists(`[data-testid="terminate-form"]`) {
		t.Error("alice, who approves nothing, is offered to terminate")
	}
	watcher.screenshot(pageShots(), "follow-forbidden")
	watcher.forgePost("/sessions/" + s.Name + "/terminate")
	if msg := watcher.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") && !strings.Contains(msg, "422") {
		t.Errorf("alice's forged termination shows %q, want the API's refusal", msg)
	}
	alice.typeInto(0, "echo still-$((1+2))\r")
	alice.waitLine(0, regexp.MustCompile(`^still-3$`), 10*time.Second)
}
