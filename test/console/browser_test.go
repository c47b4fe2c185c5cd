package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/infroware/janus/internal/consoleenv"
)

const chromiumPath = "/usr/bin/chromium"

// browser is one person's browser: its own Chromium with a fresh profile,
// phone-sized, using one console.
type browser struct {
	t    testing.TB
	name string
	ctx  context.Context
	// base is the console's URL and issuer its OpenID provider's, where
	// signIn, open and sessionCookie go.
	base, issuer string
}

var shotMu sync.Mutex

// newBrowser starts Chromium for name, using the primary console; on
// failure of t it saves a screenshot under _output/console-logs/<test>/.
func newBrowser(t testing.TB, name string) *browser {
	t.Helper()
	return newBrowserOf(t, name, primary)
}

// newBrowserOf starts Chromium for name, using console c.
func newBrowserOf(t testing.TB, name string, c *consoleenv.Console) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		// The OpenID provider of the token-mode test serves HTTPS with a
		// CA of its own; everything the browsers reach is on loopback.
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelCtx := chromedp.NewContext(allocCtx)
	// The first call starts the browser; it must not carry the timeout.
	if err := chromedp.Do(root); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("starting Chromium for %s: %v", name, err)
	}
	ctx, cancelTimeout := context.WithTimeout(root, 90*time.Second)
	b := &browser{t: t, name: name, ctx: ctx, base: c.URL, issuer: c.Provider.Issuer}
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(filepath.Join(repoRoot, "_output", "console-logs", sanitize(t.Name())), "failure-"+name)
		}
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return b
}

func sanitize(s string) string {
	return regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(s, "_")
}

// screenshot saves the whole page as dir/name.png.
func (b *browser) screenshot(dir, name string) {
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	shotMu.Lock()
	defer shotMu.Unlock()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot of %s's browser: %s", b.name, path)
}

// run runs actions, failing the test with what was being done.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatalf("%s (%s): %v", what, b.name, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	b.run("waiting for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	// Found and read in one script: a live page may swap the element for
	// its re-rendered copy between a lookup and a read by node.
	return strings.TrimSpace(get(b, "reading "+sel, chromedp.Evaluate[string](fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText : '' })()`, sel))))
}

func (b *browser) exists(sel string) bool {
	b.t.Helper()
	return get(b, "looking for "+sel, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, sel)))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return get(b, "counting "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
}

// signIn signs in through the provider's own login form.
func (b *browser) signIn(user string) {
	b.t.Helper()
	b.run("opening the console and being sent to sign in",
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`input#username`)))
	url := get(b, "reading the login page's address", chromedp.Location())
	if !strings.HasPrefix(url, b.issuer) {
		b.t.Fatalf("the sign-in page is %s, not at the provider %s", url, b.issuer)
	}
	b.run("signing in at the provider",
		chromedp.SendKeys(chromedp.CSS(`input#username`), user),
		chromedp.SendKeys(chromedp.CSS(`input#password`), user+passwordSuffix),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-in-as"]`)))
	if got := b.text(`[data-testid="signed-in-as"]`); got != user {
		b.t.Fatalf("signed in as %q, want %q", got, user)
	}
}

func (b *browser) open(path, waitFor string) {
	b.t.Helper()
	b.run("opening "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

// forgePost submits a same-origin form POST to path from the current page,
// as a hand-written form would, bypassing the buttons the page offers.
func (b *browser) forgePost(path string) {
	b.t.Helper()
	get(b, "posting to "+path+" without a button",
		chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const f = document.createElement('form'); f.method = 'post'; f.action = %q; document.body.appendChild(f); f.submit(); return true })()`, path)))
	b.run("waiting for the API's answer", chromedp.WaitVisible(chromedp.CSS(`[data-testid="api-error"]`)))
}

// sessionCookie returns the console's session cookie in the browser.
func (b *browser) sessionCookie() *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{b.base}})
	if err != nil {
		b.t.Fatalf("reading cookies (%s): %v", b.name, err)
	}
	for _, c := range res.Cookies {
		if c.Name == "__Host-janus-session" {
			return c
		}
	}
	return nil
}

// eventually reloads path until cond holds, or fails after timeout.
func (b *browser) eventually(path, waitFor string, timeout time.Duration, what string, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		b.open(path, waitFor)
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s: not within %s", what, timeout)
		}
		select {
		case <-b.ctx.Done():
			b.t.Fatalf("%s: %v", what, b.ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// get runs one action that returns a value.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.t.Fatalf("%s (%s): %v", what, b.name, err)
	}
	return v
}
