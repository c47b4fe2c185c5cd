package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// demoPod is the kwok pod of namespace payments in cluster dev; kwok's
// ClusterExec runs what is exec'd in it as a local process, so a shell
// there is this machine's sh.
const demoPod = "payments-api-0"

// activeTerminalRequest is an hour's request of alice's for payments in
// dev, approved by bob and Active; withdrawn when the test ends.
func activeTerminalRequest(t testing.TB, ctx context.Context, reason string) string {
	t.Helper()
	name := liveRequest(t, ctx, "alice", reason)
	clock := watchPhases(t, ctx, name, v1alpha1.AccessRequestActive)
	if _, err := liveClient(t, "bob").JanusV1alpha1().AccessRequests().Approve(ctx, name, &v1alpha1.Approval{Reason: "terminal test"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("approving %s as bob: %v", name, err)
	}
	clock.at(t, v1alpha1.AccessRequestActive, 30*time.Second)
	t.Cleanup(func() {
		_, _ = liveClient(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(context.Background(), name, &v1alpha1.Withdrawal{Reason: "test done"}, metav1.CreateOptions{})
	})
	return name
}

// terminalPath is the deep link to a terminal in the demo pod.
func terminalPath(name string) string {
	return fmt.Sprintf("/requests/%s/terminal?namespace=payments&pod=%s", name, demoPod)
}

// openTerminal opens path and waits until pane i's shell is ready.
func (b *browser) openTerminal(path string, i int) {
	b.t.Helper()
	b.open(path, `[data-testid="pane"] .xterm`)
	b.waitReady(i)
}

// waitReady waits until pane i's shell has shown its prompt (the coloured
// one the page types, unless turned off) and takes typing.
func (b *browser) waitReady(i int) {
	b.t.Helper()
	b.waitJS("the terminal's shell ready", fmt.Sprintf(`(window.janusTerminals || []).length > %d && janusTerminals[%d].ready === true && janusTerminals[%d].ws.readyState === WebSocket.OPEN`, i, i, i), 15*time.Second)
}

// termLines is pane i's xterm buffer, line by line (a line the terminal
// wrapped joined again), read through xterm's own API (buffer.active), not
// from the page's text.
func (b *browser) termLines(i int) []string {
	b.t.Helper()
	return get(b, "reading the terminal's buffer", chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
  const buf = janusTerminals[%d].term.buffer.active, lines = [];
  for (let y = 0; y < buf.length; y++) {
    const line = buf.getLine(y), text = line.translateToString(true);
    if (line.isWrapped && lines.length > 0) lines[lines.length - 1] += text; else lines.push(text);
  }
  return lines;
})()`, i)))
}

// waitLine waits until a line of pane i's buffer matches re and returns it.
func (b *browser) waitLine(i int, re *regexp.Regexp, timeout time.Duration) string {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := b.termLines(i)
		for _, l := range lines {
			if re.MatchString(strings.TrimSpace(l)) {
				return strings.TrimSpace(l)
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no line of the terminal matches %s within %s; it shows:\n%s", re, timeout, strings.Join(lines, "\n"))
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for %s: %v", re, b.ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling xterm's buffer, bounded by the deadline
		}
	}
}

// typeInto types keys into pane i as a person would: key events on the
// textarea xterm.js listens on, each a keyDown carrying its text and a
// keyUp, as a keyboard gives them (chromedp's SendKeys adds a separate
// char event, which xterm.js takes as a second keystroke).
func (b *browser) typeInto(i int, keys string) {
	b.t.Helper()
	sel := fmt.Sprintf(`[data-testid="pane"]:nth-of-type(%d) .xterm-helper-textarea`, i+1)
	b.run("focusing the terminal", chromedp.Focus(chromedp.CSS(sel)))
	for _, r := range keys {
		if r == '\n' {
			r = '\r'
		}
		down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: string(r), Text: string(r), UnmodifiedText: string(r)}
		if k, ok := kb.Keys[r]; ok {
			down.Key, down.Code, down.WindowsVirtualKeyCode, down.NativeVirtualKeyCode = k.Key, k.Code, k.Windows, k.Native
			if k.Shift {
				down.Modifiers = int64(kb.ModifierShift)
			}
		}
		up := down
		up.Type, up.Text, up.UnmodifiedText = input.DispatchKeyEventTypeKeyUp, "", ""
		for _, ev := range []input.DispatchKeyEventParams{down, up} {
			if _, err := chromedp.Call(b.ctx, input.DispatchKeyEvent, ev); err != nil {
				b.t.Fatalf("typing %q (%s): %v", keys, b.name, err)
			}
		}
	}
}

// termSize is pane i's size as xterm.js has it: rows and columns.
func (b *browser) termSize(i int) (rows, cols int) {
	b.t.Helper()
	size := get(b, "reading the terminal's size", chromedp.Evaluate[[]int](fmt.Sprintf(`[janusTerminals[%d].term.rows, janusTerminals[%d].term.cols]`, i, i)))
	return size[0], size[1]
}

// stampContains records in the page when the text of sel first contains
// want (a MutationObserver), as stampWhen does for equal text.
func (b *browser) stampContains(key, sel, want string) {
	b.t.Helper()
	get(b, "watching "+sel+" for "+want, chromedp.Evaluate[bool](fmt.Sprintf(`(() => {
  window.__stamps = window.__stamps || {};
  const key = %q, sel = %q, want = %q;
  const check = () => { const el = document.querySelector(sel); if (!window.__stamps[key] && el && !el.closest('[hidden]') && el.textContent.includes(want)) { window.__stamps[key] = performance.timeOrigin + performance.now(); } };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  check();
  return true;
})()`, key, sel, want)))
}
