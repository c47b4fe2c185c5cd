package console

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// luminance is the relative luminance of a CSS rgb()/rgba() colour, or -1.
func luminance(css string) float64 {
	inside := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(css, "rgba("), "rgb("), ")")
	parts := strings.Split(inside, ",")
	if len(parts) < 3 {
		return -1
	}
	var l float64
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, err := strconv.ParseFloat(strings.TrimSpace(parts[i]), 64)
		if err != nil {
			return -1
		}
		l += w * v / 255
	}
	return l
}

// TestThemesAndKeyboard: the console follows the system's dark or light
// theme with readable contrast, and an approver can reach and press
// Approve with the keyboard alone, seeing where the focus is.
func TestThemesAndKeyboard(t *testing.T) {
	name := requestAs(t, "alice", "dev", time.Hour, "checking the themes")
	bob := newBrowser(t, "bob")
	bob.signIn("bob")
	approve := fmt.Sprintf(`[data-testid="approve-%s"]`, name)
	colours := func() (bg, fg string) {
		t.Helper()
		bg = get(bob, "reading the page's background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
		fg = get(bob, "reading the page's text colour", chromedp.Evaluate[string](`getComputedStyle(document.body).color`))
		return bg, fg
	}
	for _, scheme := range []string{"dark", "light"} {
		if _, err := chromedp.Call(bob.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		}); err != nil {
			t.Fatalf("emulating the %s theme: %v", scheme, err)
		}
		bob.open("/approvals", approve)
		bg, fg := colours()
		lb, lf := luminance(bg), luminance(fg)
		if lb < 0 || lf < 0 {
			t.Fatalf("%s theme: unreadable colours %q on %q", scheme, fg, bg)
		}
		if dark := scheme == "dark"; dark && !(lb < 0.2 && lf > 0.7) || !dark && !(lb > 0.9 && lf < 0.2) {
			t.Errorf("%s theme: text %s (luminance %.2f) on %s (%.2f)", scheme, fg, lf, bg, lb)
		}
		bob.screenshot(pageShots(), "approvals-"+scheme)
	}

	// From the top of the page, Tab until the approve button has the
	// focus; it must get there, show a focus outline, and Enter approves.
	bob.open("/approvals", approve)
	reached := false
	for range 60 {
		bob.run("pressing Tab", chromedp.KeyEvent("\t"))
		if get(bob, "reading the focus", chromedp.Evaluate[bool](fmt.Sprintf(`document.activeElement === document.querySelector(%q)`, approve))) {
			reached = true
			break
		}
	}
	if !reached {
		t.Fatal("Tab never reached the approve button")
	}
	if outline := get(bob, "reading the focus outline", chromedp.Evaluate[string](`getComputedStyle(document.activeElement).outlineStyle`)); outline == "none" || outline == "" {
		t.Errorf("the focused approve button shows no outline (%q)", outline)
	}
	bob.screenshot(pageShots(), "approvals-keyboard-focus")
	bob.run("pressing Enter on approve",
		chromedp.KeyEvent("\r"),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`[data-testid="pending-%s"]`, name))))
}
