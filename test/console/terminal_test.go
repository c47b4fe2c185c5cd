package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestTerminalRunsAShell: alice opens a terminal from her Active request's
// page, types echo $((6*7)) and 42 appears in xterm's buffer; stty size in
// the pod says the size xterm.js fitted to its pane, and after the window
// is resized it says the new size. The page breaks no CSP rule.
func TestTerminalRunsAShell(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: orders-api is slow")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")

	alice.open("/requests/"+name, `[data-testid="open-terminal"]`)
	alice.run("opening the terminal from the request's page", chromedp.Click(chromedp.CSS(`[data-testid="open-terminal"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="pods"]`)))
	for _, pod := range []string{demoPod, "payments-worker-0"} {
		if !alice.exists(fmt.Sprintf(`[data-testid="pod-%s"]`, pod)) {
			t.Errorf("the pod list of payments (accessrequests/pods) lacks %s", pod)
		}
	}
	// Found and clicked in one script: the pod list may be re-rendered
	// between a lookup and a click by node.
	get(alice, "choosing the pod", chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const b = document.querySelector(%q); if (b) b.click(); return !!b })()`, `[data-testid="open-`+demoPod+`"]`)))
	alice.waitReady(0)
	// The page typed a coloured prompt into the new shell: cyan user@host
	// (palette colour 6), read from xterm's buffer.
	prompt := get(alice, "reading the prompt", chromedp.Evaluate[[]any](`(() => {
  // The cursor's line with the lines it wrapped from: the prompt holds
  // the pod's working directory, which may be long.
  const buf = janusTerminals[0].term.buffer.active;
  let y = buf.baseY + buf.cursorY, text = buf.getLine(y).translateToString(true);
  while (y > 0 && buf.getLine(y).isWrapped) { y--; text = buf.getLine(y).translateToString(true) + text; }
  const cell = buf.getLine(y).getCell(0);
  return [text, cell.isFgPalette() ? cell.getFgColor() : -1];
})()`))
	t.Logf("the shell's prompt: %q, first cell colour %v", prompt[0], prompt[1])
	if !regexp.MustCompile(`^\S+@\S+:/\S*[#$] ?$`).MatchString(fmt.Sprint(prompt[0])) || prompt[1] != float64(6) {
		t.Errorf("the prompt is %q in colour %v, want cyan user@host:path", prompt[0], prompt[1])
	}
	if got := alice.text(`[data-testid="ns-tab-payments"]`); got != "payments" {
		t.Errorf("the namespace tab reads %q, want payments", got)
	}
	if left := alice.text(`[data-testid="time-left"]`); !strings.HasPrefix(left, "ends in ") {
		t.Errorf("the time left reads %q, want \"ends in …\"", left)
	}

	alice.typeInto(0, "echo $((6*7))\r")
	alice.waitLine(0, regexp.MustCompile(`^42$`), 10*time.Second)

	// The first size reaches the pod just after the shell starts, and a
	// resize travels beside the keystrokes, not in line with them: ask
	// again until the pod's answer is the size xterm.js has.
	sttySays := func(what string) string {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			rows, cols := alice.termSize(0)
			want := fmt.Sprintf("%d %d", rows, cols)
			marker := fmt.Sprintf("size-%d", time.Now().UnixNano())
			alice.typeInto(0, "echo "+marker+" $(stty size)\r")
			line := alice.waitLine(0, regexp.MustCompile(`^`+marker+` \d+ \d+$`), 5*time.Second)
			if got := strings.TrimPrefix(line, marker+" "); got == want {
				t.Logf("%s: stty size in the pod says %s, as xterm.js has it", what, got)
				return got
			} else if time.Now().After(deadline) {
				t.Fatalf("%s: stty size in the pod says %s, xterm.js has %s", what, got, want)
			}
		}
	}
	before := sttySays("phone-sized window")
	if !get(alice, "measuring the page", chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
		t.Error("the terminal page is wider than a phone's screen")
	}
	alice.screenshot(pageShots(), "terminal-phone")
	alice.run("widening the window", chromedp.EmulateViewport(1280, 800))
	alice.waitJS("xterm.js refitted to the wider pane", fmt.Sprintf(`janusTerminals[0].term.cols > %s`, strings.Fields(before)[1]), 5*time.Second)
	after := sttySays("wide window")
	if after == before {
		t.Errorf("stty size stayed %s after the window widened", after)
	}
	alice.screenshot(pageShots(), "terminal-wide")

	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the terminal page broke the Content-Security-Policy: %v", v)
	}
	if n := alice.count(`style, script:not([src])`); n != 0 {
		t.Errorf("the terminal page holds %d inline style or script elements", n)
	}
}

// TestTerminalCutOnRevoke: carol revokes alice's request while alice's
// terminal is open; within a second of the API saying Revoked the pane
// shows Janus's line with carol's reason, offers no reconnect, and what
// alice types no longer reaches the pod (the pod's shell is a local
// process under kwok, so what it runs shows on this machine's disk).
func TestTerminalCutOnRevoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: to be revoked")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)

	dir := t.TempDir()
	beforeFile, afterFile := filepath.Join(dir, "before"), filepath.Join(dir, "after")
	alice.typeInto(0, "echo typed > "+beforeFile+" && echo written\r")
	alice.waitLine(0, regexp.MustCompile(`^written$`), 10*time.Second)
	if _, err := os.Stat(beforeFile); err != nil {
		t.Fatalf("what alice typed did not run in the pod: %v", err)
	}

	// carol revokes from her own console, on the request's page.
	const why = "terminal test: incident over"
	carol := newBrowser(t, "carol")
	carol.signIn("carol")
	carol.open("/requests/"+name, fmt.Sprintf(`[data-testid="revoke-%s"]`, name))
	carol.run("giving a reason to revoke", chromedp.SendKeys(chromedp.CSS(`#revoke-reason-`+name), why))
	alice.stampContains("revoked", `[data-testid="ended-why"]`, "access revoked by carol: "+why)
	clock := watchPhases(t, ctx, name, v1alpha1.AccessRequestRevoked)
	carol.submit("revoking from carol's console", fmt.Sprintf(`[data-testid="revoke-%s"]`, name), `#detail [data-testid="decision"]`)
	apiRevoked := clock.at(t, v1alpha1.AccessRequestRevoked, 10*time.Second)
	shown := alice.stamp("revoked", time.Until(apiRevoked.Add(10*time.Second)))
	lag := shown.Sub(apiRevoked)
	t.Logf("the API reported %s Revoked at %s; alice's pane said so %s later: %q", name, apiRevoked.Format("15:04:05.000"), lag.Round(time.Millisecond), alice.text(`[data-testid="ended-why"]`))
	if lag > time.Second {
		t.Errorf("alice's pane showed the revocation %s after the API, want within 1s", lag.Round(time.Millisecond))
	}
	alice.waitLine(0, regexp.MustCompile(`janus: access revoked by carol: `+regexp.QuoteMeta(why)), 2*time.Second)
	alice.waitJS("the request's phase on the page", `document.querySelector('[data-testid="phase"]').textContent === 'Revoked'`, 5*time.Second)
	if !get(alice, "looking at the reconnect button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="reconnect"]').hidden`)) {
		t.Error("the ended pane offers to reconnect to a revoked request")
	}

	sent := get(alice, "counting what was sent", chromedp.Evaluate[int](`janusTerminals[0].sentBytes`))
	alice.typeInto(0, "echo typed > "+afterFile+"\r")
	if now := get(alice, "counting what was sent", chromedp.Evaluate[int](`janusTerminals[0].sentBytes`)); now != sent {
		t.Errorf("the ended pane sent %d more bytes of typing", now-sent)
	}
	if state := get(alice, "reading the websocket's state", chromedp.Evaluate[int](`janusTerminals[0].ws.readyState`)); state != 3 {
		t.Errorf("the pane's websocket is in state %d after the revocation, want 3 (closed)", state)
	}
	if _, err := os.Stat(afterFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("what alice typed after the revocation ran in the pod: %v", err)
	}
	alice.screenshot(pageShots(), "terminal-revoked")
}

// TestTerminalOfAnotherPersonIsForbidden: bob, an approver of dev, opens
// alice's terminal by its deep link: the page says it is alice's and the
// pane shows the API's own 403.
func TestTerminalOfAnotherPersonIsForbidden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: alice's own")
	bob := newBrowser(t, "bob")
	bob.watchPages()
	bob.signIn("bob")
	bob.open(terminalPath(name), `[data-testid="pane"]`)
	if !bob.exists(`[data-testid="not-own"]`) {
		t.Error("the page does not say the request is alice's")
	}
	if note := bob.text(`[data-testid="pods-note"]`); !strings.Contains(note, "403 Forbidden") {
		t.Errorf("bob's pod list says %q, want the API's 403", note)
	}
	bob.waitJS("the pane ended", `(window.janusTerminals || []).length === 1 && janusTerminals[0].ended`, 15*time.Second)
	got := bob.text(`[data-testid="ended-why"]`)
	t.Logf("bob's pane: %q", got)
	if !strings.HasPrefix(got, "403 Forbidden: ") {
		t.Errorf("bob's pane says %q, want the API's 403 Forbidden", got)
	}
	if status := get(bob, "reading the final status", chromedp.Evaluate[map[string]any](`janusTerminals[0].status`)); status["code"] != float64(403) || !strings.Contains(fmt.Sprint(status["message"]), "requester") {
		t.Errorf("the final status is %v, want the API's 403 naming the requester rule", status)
	}
	if !get(bob, "looking at the reconnect button", chromedp.Evaluate[bool](`document.querySelector('[data-testid="reconnect"]').hidden`)) {
		t.Error("bob is offered to reconnect to a terminal the API refused him")
	}
	bob.screenshot(pageShots(), "terminal-forbidden")
}

// TestTerminalFromAnotherOriginIsRefused: a websocket to alice's terminal
// with her session cookie but another site's Origin gets 403 and no
// stream; the same dial from the console's own origin is accepted.
func TestTerminalFromAnotherOriginIsRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: cross-site websocket")
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	cookie := alice.sessionCookie()
	if cookie == nil {
		t.Fatal("alice's browser holds no session cookie")
	}
	url := "ws" + strings.TrimPrefix(consoleURL, "http") + fmt.Sprintf("/requests/%s/terminal/ws?namespace=payments&pod=%s&command=sh", name, demoPod)
	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
		return d.DialContext(ctx, url, http.Header{"Origin": {origin}, "Cookie": {cookie.Name + "=" + cookie.Value}})
	}
	conn, res, err := dial("https://evil.example")
	if err == nil {
		conn.Close()
		t.Fatal("a websocket from https://evil.example with alice's cookie was accepted")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("a websocket from another origin: %v (response %v), want 403", err, res)
	}
	t.Logf("from https://evil.example: %s", res.Status)

	conn, res, err = dial(consoleURL)
	if err != nil {
		t.Fatalf("the same websocket from the console's own origin: %v (response %v)", err, res)
	}
	defer conn.Close()
	if conn.Subprotocol() != "v5.channel.k8s.io" {
		t.Errorf("the console speaks %q, want v5.channel.k8s.io", conn.Subprotocol())
	}
}

// TestTerminalTwoPanesSideBySide: on a wide screen alice splits her
// terminal with a second pod; the two panes sit side by side and run
// commands at once, each in its own session: the second answers while the
// first is still sleeping.
func TestTerminalTwoPanesSideBySide(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: two pods at once")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.run("a wide window", chromedp.EmulateViewport(1280, 800))
	alice.openTerminal(terminalPath(name), 0)
	alice.run("splitting with the worker", chromedp.SendKeys(chromedp.CSS(`[data-testid="split-pod"]`), "payments-worker-0"), chromedp.Click(chromedp.CSS(`[data-testid="split"]`)))
	alice.waitReady(1)
	if !get(alice, "placing the panes", chromedp.Evaluate[bool](`(() => { const [a, b] = [...document.querySelectorAll('[data-testid="pane"]')].map(p => p.getBoundingClientRect()); return Math.abs(a.top - b.top) < 1 && b.left >= a.right; })()`)) {
		t.Error("the two panes are not side by side on a wide screen")
	}

	alice.typeInto(0, "sleep 3; echo slept-$((1+1))\r")
	alice.typeInto(1, "echo $((6*7))\r")
	alice.waitLine(1, regexp.MustCompile(`^42$`), 5*time.Second)
	for _, l := range alice.termLines(0) {
		if strings.Contains(l, "slept-2") {
			t.Fatal("the first pane's sleep ended before the second pane answered: the panes did not run at once")
		}
	}
	alice.waitLine(0, regexp.MustCompile(`^slept-2$`), 10*time.Second)
	for _, l := range alice.termLines(1) {
		if strings.Contains(l, "slept-2") {
			t.Error("the first pane's output showed in the second pane")
		}
	}
	alice.run("opening the worker's log beside the panes", chromedp.Click(chromedp.CSS(`[data-testid="pane"]:nth-of-type(2) [data-testid="pane-logs"]`)))
	alice.waitJS("the worker's log", `document.querySelector('[data-testid="side-pod"]').textContent === 'payments/payments-worker-0' && document.querySelector('[data-testid="log"]').textContent.includes('listening on :8080')`, 10*time.Second)
	alice.screenshot(pageShots(), "terminal-split")
	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the split terminal page broke the Content-Security-Policy: %v", v)
	}
}

// TestTerminalQuickCommands: the dev Cluster shares a quick command
// (spec.console.quickCommands); a click types it into alice's terminal.
// A command of her own, kept in her browser, runs the same way and is
// still there after a reload.
func TestTerminalQuickCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	setQuickCommands(t, ctx, "dev", []v1alpha1.QuickCommand{{Name: "answer", Command: "echo quick-$((20+22))"}})
	name := activeTerminalRequest(t, ctx, "terminal: quick commands")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)

	alice.run("clicking the shared quick command", chromedp.Click(chromedp.CSS(`[data-testid="quick-answer"]`)))
	alice.waitLine(0, regexp.MustCompile(`^quick-42$`), 10*time.Second)

	alice.run("keeping a command of her own",
		chromedp.Click(chromedp.CSS(`.add-command summary`)),
		chromedp.SendKeys(chromedp.CSS(`.own-command-form input[name="name"]`), "mine"),
		chromedp.SendKeys(chromedp.CSS(`.own-command-form input[name="command"]`), "echo own-$((40+2))"),
		chromedp.Click(chromedp.CSS(`.own-command-form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="own-mine"]`)))
	alice.waitLine(0, regexp.MustCompile(`^own-42$`), 10*time.Second)
	alice.screenshot(pageShots(), "terminal-quick-commands")

	alice.openTerminal(terminalPath(name), 0)
	if !alice.exists(`[data-testid="own-mine"]`) {
		t.Error("alice's own command is gone after a reload")
	}

	// The coloured prompt turned off: the next shell keeps its own.
	alice.run("turning the coloured prompt off", chromedp.Click(chromedp.CSS(`[data-testid="prompt-choice"]`)))
	alice.openTerminal(terminalPath(name), 0)
	if line := get(alice, "reading the prompt", chromedp.Evaluate[string](`(() => { const buf = janusTerminals[0].term.buffer.active; return buf.getLine(buf.baseY + buf.cursorY).translateToString(true).trim(); })()`)); line != "#" {
		t.Errorf("with the coloured prompt off the shell's prompt is %q, want sh's own #", line)
	}
	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the terminal page broke the Content-Security-Policy: %v", v)
	}
}

// setQuickCommands sets a Cluster's shared quick commands as admin, and
// puts back what it had when the test ends.
func setQuickCommands(t *testing.T, ctx context.Context, cluster string, commands []v1alpha1.QuickCommand) {
	t.Helper()
	clusters := liveClient(t, "admin").JanusV1alpha1().Clusters()
	set := func(ctx context.Context, commands []v1alpha1.QuickCommand) ([]v1alpha1.QuickCommand, error) {
		var before []v1alpha1.QuickCommand
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cl, err := clusters.Get(ctx, cluster, metav1.GetOptions{})
			if err != nil {
				return err
			}
			before = cl.Spec.Console.QuickCommands
			cl.Spec.Console.QuickCommands = commands
			_, err = clusters.Update(ctx, cl, metav1.UpdateOptions{})
			return err
		})
		return before, err
	}
	before, err := set(ctx, commands)
	if err != nil {
		t.Fatalf("setting the quick commands of %s as admin: %v", cluster, err)
	}
	t.Cleanup(func() {
		if _, err := set(context.Background(), before); err != nil {
			t.Errorf("putting back the quick commands of %s: %v", cluster, err)
		}
	})
}

// TestTerminalWarnsBeforeTheEnd: bob grants alice's request the shortest
// time Janus allows (10 minutes); with the browser's clock six minutes
// ahead, as if she had kept the page open that long, her terminal page
// warns that the terminal closes in about four minutes (the warning starts
// five minutes before the end).
func TestTerminalWarnsBeforeTheEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := liveRequest(t, ctx, "alice", "terminal: a short grant")
	t.Cleanup(func() { liveWithdraw(t, "alice", name) })
	clock := watchPhases(t, ctx, name, v1alpha1.AccessRequestActive)
	if _, err := liveClient(t, "bob").JanusV1alpha1().AccessRequests().Approve(ctx, name, &v1alpha1.Approval{Reason: "ten minutes only", Duration: &metav1.Duration{Duration: 10 * time.Minute}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("approving %s for 10m as bob: %v", name, err)
	}
	clock.at(t, v1alpha1.AccessRequestActive, 30*time.Second)
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	if left := alice.text(`[data-testid="time-left"]`); !regexp.MustCompile(`^ends in (9|10)m \d\ds$`).MatchString(left) {
		t.Errorf("the time left of a 10m grant reads %q, want about 10 minutes and no warning", left)
	}
	if _, err := chromedp.Call(alice.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `{ const now = Date.now; Date.now = () => now() + 6 * 60 * 1000; }`}); err != nil {
		t.Fatalf("moving the browser's clock: %v", err)
	}
	alice.openTerminal(terminalPath(name), 0)
	alice.waitJS("the warning", `document.querySelector('[data-testid="time-left"]').classList.contains('warn')`, 5*time.Second)
	left := alice.text(`[data-testid="time-left"]`)
	t.Logf("time left, six minutes on: %q", left)
	if !regexp.MustCompile(`^ends in [34]m \d\ds: the terminal closes then$`).MatchString(left) {
		t.Errorf("the time left reads %q, want about 4 minutes and the warning", left)
	}
	alice.screenshot(pageShots(), "terminal-ending-soon")
}

// TestTerminalLogsAndEvents: from her terminal's pane alice opens the
// sidebar: the pod's log (accessrequests/log, followed) and its Events
// (accessrequests/events), both read as alice.
func TestTerminalLogsAndEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: logs beside the shell")
	alice := newBrowser(t, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	alice.run("opening the sidebar", chromedp.Click(chromedp.CSS(`[data-testid="pane-logs"]`)))
	alice.waitJS("the pod's log in the sidebar", `document.querySelector('[data-testid="log"]').textContent.includes('listening on :8080')`, 10*time.Second)
	alice.waitJS("the pod's Events listed", `document.querySelectorAll('[data-testid="events"] li').length > 0`, 10*time.Second)
	if got := alice.text(`[data-testid="events"]`); strings.Contains(got, "not shown") {
		t.Errorf("the sidebar's Events say %q", got)
	}
	if got := alice.text(`[data-testid="side-pod"]`); got != "payments/"+demoPod {
		t.Errorf("the sidebar is about %q, want payments/%s", got, demoPod)
	}
	// Following: a line the container logs now (kwok follows the file its
	// containers log from) appears in the open sidebar.
	line := fmt.Sprintf("served request %d", time.Now().UnixNano())
	logFile, err := os.OpenFile(bed.Target("dev").DemoLogFile(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("opening the demo containers' log: %v", err)
	}
	// In the CRI log format kwok reads, as the file's first lines are.
	_, err = logFile.WriteString(time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + line + "\n")
	if cerr := logFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("logging a line: %v", err)
	}
	alice.waitJS("the new log line in the followed sidebar", fmt.Sprintf(`document.querySelector('[data-testid="log"]').textContent.includes(%q)`, line), 10*time.Second)
	alice.screenshot(pageShots(), "terminal-sidebar")
	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the terminal page broke the Content-Security-Policy: %v", v)
	}
}

// TestTerminalExitAndReconnect: alice's shell exits; the pane says so
// and, the request being Active, offers to reconnect, which opens a new
// session in the same pane. (kwok's exec reports a non-zero exit as an
// InternalError naming the status rather than as NonZeroExitCode, so the
// shell exits 0 here; the pane shows whatever the API says.)
func TestTerminalExitAndReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: exit and come back")
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)
	alice.typeInto(0, "exit\r")
	alice.waitJS("the pane ended", `janusTerminals[0].ended`, 10*time.Second)
	if got := alice.text(`[data-testid="ended-why"]`); got != "The shell exited (status 0)." {
		t.Errorf("the ended pane says %q, want the exit status 0", got)
	}
	alice.waitJS("the offer to reconnect", `!document.querySelector('[data-testid="reconnect"]').hidden`, 5*time.Second)
	alice.run("reconnecting", chromedp.Click(chromedp.CSS(`[data-testid="reconnect"]`)))
	alice.waitReady(0)
	alice.typeInto(0, "echo back-$((6*7))\r")
	alice.waitLine(0, regexp.MustCompile(`^back-42$`), 10*time.Second)
}

// TestTerminalHeldThreeMinutes: a terminal left open without a keystroke
// for three minutes (well within the API's idle timeout of 15m) is still
// alive: the console's pings and client-go's to the API keep both
// websockets open, and the shell still answers. The terminal is alice's,
// opened over the console's websocket with her cookie from the console's
// origin (the test browser's context lasts 90s). It runs in parallel with
// the package's other tests; -short skips it.
func TestTerminalHeldThreeMinutes(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a terminal open for three minutes")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: held open")
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	cookie := alice.sessionCookie()
	url := "ws" + strings.TrimPrefix(consoleURL, "http") + fmt.Sprintf("/requests/%s/terminal/ws?namespace=payments&pod=%s&command=sh", name, demoPod)
	d := websocket.Dialer{Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.DialContext(ctx, url, http.Header{"Origin": {consoleURL}, "Cookie": {cookie.Name + "=" + cookie.Value}})
	if err != nil {
		t.Fatalf("opening alice's terminal: %v", err)
	}
	defer conn.Close()
	// Reading answers the console's pings (gorilla's default handler).
	out := make(chan string, 64)
	ended := make(chan error, 1)
	go func() {
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				ended <- err
				return
			}
			if len(msg) > 0 && msg[0] == 1 {
				out <- string(msg[1:])
			}
		}
	}()
	var seen strings.Builder
	waitFor := func(want string, timeout time.Duration) {
		t.Helper()
		deadline := time.After(timeout)
		for !strings.Contains(seen.String(), want) {
			select {
			case s := <-out:
				seen.WriteString(s)
			case err := <-ended:
				t.Fatalf("the terminal ended waiting for %q: %v; it showed %q", want, err, seen.String())
			case <-deadline:
				t.Fatalf("no %q within %s; the terminal showed %q", want, timeout, seen.String())
			}
		}
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{4}, `{"Width":80,"Height":24}`...)); err != nil {
		t.Fatal(err)
	}
	waitFor("# ", 10*time.Second)
	began := time.Now()
	select {
	case err := <-ended:
		t.Fatalf("the terminal ended after %s without a keystroke: %v", time.Since(began).Round(time.Second), err)
	case s := <-out:
		t.Fatalf("the idle terminal printed %q", s)
	case <-time.After(3 * time.Minute): // the hold is what is tested
	}
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, "echo still-$((6*7))\r"...)); err != nil {
		t.Fatalf("typing after the hold: %v", err)
	}
	waitFor("still-42", 10*time.Second)
	t.Logf("the terminal answered after %s held open", time.Since(began).Round(time.Second))
}
