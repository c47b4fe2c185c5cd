package console

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestTerminalSearchCopyPaste: in alice's terminal, Ctrl+Shift+F opens a
// search of the scrollback that finds and selects a word long scrolled out
// of sight (the search addon's findNext, read back through xterm's
// getSelection), Shift+Enter and Enter stepping back and forth between
// matches; Ctrl+Shift+C copies a selected line to the clipboard and
// Ctrl+Shift+V pastes the clipboard into the shell, where it runs; Ctrl+C
// still goes to the shell. The page breaks no CSP rule.
func TestTerminalSearchCopyPaste(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := activeTerminalRequest(t, ctx, "terminal: search, copy and paste")
	alice := newBrowser(t, "alice")
	alice.grantClipboard()
	alice.watchPages()
	alice.signIn("alice")
	alice.openTerminal(terminalPath(name), 0)

	// A word printed, then 200 lines after it: it is in the scrollback,
	// above what the pane shows.
	alice.typeInto(0, "echo needle-$((40+2)); seq 1 200\n")
	alice.waitLine(0, regexp.MustCompile(`^200$`), 10*time.Second)
	alice.pressShortcut(0, 'F')
	alice.run("searching the scrollback",
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="search-input"]`)),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="search-input"]`), "needle-42"+kb.Enter))
	alice.waitJS("the search selected the word", `janusTerminals[0].term.getSelection() === 'needle-42'`, 5*time.Second)
	found := get(alice, "reading where the match is", chromedp.Evaluate[[]int](`(() => {
  const term = janusTerminals[0].term, pos = term.getSelectionPosition(), buf = term.buffer.active;
  return [pos.start.y, buf.viewportY, buf.baseY];
})()`))
	line := get(alice, "reading the matched line", chromedp.Evaluate[string](fmt.Sprintf(`janusTerminals[0].term.buffer.active.getLine(%d).translateToString(true).trim()`, found[0])))
	t.Logf("the match is on buffer row %d (%q); the view starts at row %d, the bottom view at %d", found[0], line, found[1], found[2])
	if line != "needle-42" {
		t.Errorf("the selected match is on the line %q, want the output line needle-42", line)
	}
	if found[1] >= found[2] || found[0] < found[1] {
		t.Errorf("the view was not scrolled up to the match: match row %d, view row %d, bottom %d", found[0], found[1], found[2])
	}
	alice.screenshot(pageShots(), "terminal-search")
	// "needle" is also in the command line above. A new word is first
	// matched where the selection is (the output line); Shift+Enter then
	// goes back to the command line, Enter forward to the output line.
	selRow := func() int {
		return get(alice, "reading where the selection is", chromedp.Evaluate[int](`(() => { const p = janusTerminals[0].term.getSelectionPosition(); return janusTerminals[0].term.getSelection() === 'needle' && p ? p.start.y : -1; })()`))
	}
	alice.run("searching backwards", chromedp.SetValue(chromedp.CSS(`[data-testid="search-input"]`), "needle"), chromedp.Focus(chromedp.CSS(`[data-testid="search-input"]`)), chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierShift)))
	if here := selRow(); here != found[0] {
		t.Errorf("a new word selected row %d first, want the match under the selection, row %d", here, found[0])
	}
	alice.run("searching backwards again", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(kb.ModifierShift)))
	if back := selRow(); back < 0 || back >= found[0] {
		t.Errorf("Shift+Enter selected row %d, want the command line's needle above row %d", back, found[0])
	}
	alice.run("searching forwards", chromedp.KeyEvent(kb.Enter))
	if next := selRow(); next != found[0] {
		t.Errorf("Enter after Shift+Enter selected row %d, want the output line's row %d", next, found[0])
	}
	alice.run("closing the search", chromedp.SendKeys(chromedp.CSS(`[data-testid="search-input"]`), kb.Escape))
	alice.waitJS("the search box closed", `document.querySelector('[data-testid="pane-search"]').hidden`, 5*time.Second)

	// Copy: a line selected through xterm's API, then Ctrl+Shift+C.
	alice.typeInto(0, "echo copy-me-$((3+4))\n")
	alice.waitLine(0, regexp.MustCompile(`^copy-me-7$`), 10*time.Second)
	get(alice, "selecting the line", chromedp.Evaluate[bool](`(() => {
  const term = janusTerminals[0].term, buf = term.buffer.active;
  for (let y = buf.length - 1; y >= 0; y--) {
    if (buf.getLine(y).translateToString(true).trim() === 'copy-me-7') { term.select(0, y, 9); return true; }
  }
  return false;
})()`))
	alice.pressShortcut(0, 'C')
	alice.waitClipboard("copy-me-7", 15*time.Second)

	// Paste: the clipboard into the shell with Ctrl+Shift+V; Enter runs it.
	get(alice, "writing the clipboard", chromedp.Evaluate[bool](`navigator.clipboard.writeText('echo pasted-$((2+3))').then(() => true)`, chromedp.EvalAwaitPromise))
	alice.pressShortcut(0, 'V')
	alice.waitJS("the paste reached the terminal", `janusTerminals[0].sentBytes > 0 && (() => {
  // The cursor's line joined with the lines it wrapped from: the prompt holds the pod's working directory, which may be long.
  const buf = janusTerminals[0].term.buffer.active;
  let y = buf.baseY + buf.cursorY, text = buf.getLine(y).translateToString(true);
  while (y > 0 && buf.getLine(y).isWrapped) { y--; text = buf.getLine(y).translateToString(true) + text; }
  return text.includes('echo pasted-$((2+3))');
})()`, 15*time.Second)
	alice.typeInto(0, "\n")
	alice.waitLine(0, regexp.MustCompile(`^pasted-5$`), 10*time.Second)
	// Ctrl+C still goes to the shell: one byte (ETX) sent, which the pod's
	// terminal echoes as ^C; the clipboard is left as it was.
	sent := get(alice, "counting what was sent", chromedp.Evaluate[int](`janusTerminals[0].sentBytes`))
	alice.pressKey(0, 'C', kb.ModifierCtrl)
	alice.waitLine(0, regexp.MustCompile(`\^C$`), 10*time.Second)
	if now := get(alice, "counting what was sent", chromedp.Evaluate[int](`janusTerminals[0].sentBytes`)); now != sent+1 {
		t.Errorf("Ctrl+C sent %d bytes to the shell, want 1 (ETX)", now-sent)
	}
	alice.waitClipboard("echo pasted-$((2+3))", time.Second)

	if v := alice.cspViolations(); len(v) > 0 {
		t.Errorf("the terminal page broke the Content-Security-Policy: %v", v)
	}
}

// grantClipboard lets the console's pages read and write the clipboard
// without a prompt, and keeps the page focused as the clipboard needs.
func (b *browser) grantClipboard() {
	b.t.Helper()
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		p := cdpbrowser.SetPermissionParams{Permission: &cdpbrowser.PermissionDescriptor{Name: name, AllowWithoutSanitization: true}, Setting: cdpbrowser.PermissionSettingGranted, Origin: consoleURL}
		if _, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, p); err != nil {
			b.t.Fatalf("granting %s to %s (%s): %v", name, consoleURL, b.name, err)
		}
	}
	if _, err := chromedp.Call(b.ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		b.t.Fatalf("emulating focus (%s): %v", b.name, err)
	}
}

// pressShortcut presses Ctrl+Shift+key in pane i.
func (b *browser) pressShortcut(i int, key rune) {
	b.t.Helper()
	b.pressKey(i, key, kb.ModifierCtrl|kb.ModifierShift)
}

// pressKey presses a letter key with modifiers in pane i, as a keyboard
// gives it: a keyDown without text, then a keyUp.
func (b *browser) pressKey(i int, key rune, mods kb.Modifier) {
	b.t.Helper()
	sel := fmt.Sprintf(`[data-testid="pane"]:nth-of-type(%d) .xterm-helper-textarea`, i+1)
	b.run("focusing the terminal", chromedp.Focus(chromedp.CSS(sel)))
	k := strings.ToUpper(string(key))
	down := input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyDown, Key: k, Code: "Key" + k, WindowsVirtualKeyCode: int64(k[0]), NativeVirtualKeyCode: int64(k[0]), Modifiers: int64(mods)}
	if mods&kb.ModifierShift == 0 {
		down.Key = strings.ToLower(k)
	}
	up := down
	up.Type = input.DispatchKeyEventTypeKeyUp
	for _, ev := range []input.DispatchKeyEventParams{down, up} {
		if _, err := chromedp.Call(b.ctx, input.DispatchKeyEvent, ev); err != nil {
			b.t.Fatalf("pressing %s with modifiers %d (%s): %v", k, mods, b.name, err)
		}
	}
}

// waitClipboard waits until the clipboard holds want.
func (b *browser) waitClipboard(want string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := get(b, "reading the clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise))
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the clipboard holds %q, want %q", got, want)
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("waiting for the clipboard: %v", b.ctx.Err())
		case <-time.After(20 * time.Millisecond): // polling the clipboard, bounded by the deadline
		}
	}
}
