package console

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pageShots is where the walk-through saves a screenshot of every page;
// with JANUS_UPDATE_SCREENSHOTS=1 they go to docs/screenshots for the README.
func pageShots() string {
	if os.Getenv("JANUS_UPDATE_SCREENSHOTS") != "" {
		return filepath.Join(repoRoot, "docs", "screenshots")
	}
	return filepath.Join(repoRoot, "_output", "console-screenshots")
}

// TestRequestApproveAsYourself: alice requests (a too-long duration shows
// the API's 422 beside the field), cannot approve her own request, bob
// approves it in his own browser, alice sees it Approved or Active; dave
// has no queue and his forged approval is refused by the API.
func TestRequestApproveAsYourself(t *testing.T) {
	shots := pageShots()
	alice := newBrowser(t, "alice")
	alice.signIn("alice")

	alice.open("/request?cluster=dev", `input[name="namespace"][value="payments"]`)
	alice.run("filling in the request with too long a duration",
		chromedp.Click(chromedp.CSS(`input[name="namespace"][value="payments"]`)),
		chromedp.SetValue(chromedp.CSS(`#duration`), "9h"),
		chromedp.SendKeys(chromedp.CSS(`#reason`), "payments-api is failing health checks"),
		chromedp.Click(chromedp.CSS(`form.request button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-duration"]`)))
	if msg := alice.text(`[data-testid="error-duration"]`); !strings.Contains(msg, "spec.duration") {
		t.Fatalf("the duration field shows %q, want the API's message about spec.duration", msg)
	}
	if got := get(alice, "reading the duration's aria-describedby", chromedp.Evaluate[string](`document.querySelector('#duration').getAttribute('aria-describedby') || ''`)); got != "duration-error" {
		t.Errorf("the duration input is described by %q, want duration-error", got)
	}
	if !get(alice, "checking the namespace stayed ticked", chromedp.Evaluate[bool](`document.querySelector('input[name="namespace"][value="payments"]').checked`)) {
		t.Error("the ticked namespace was lost after the 422")
	}
	alice.screenshot(shots, "request-form-422")

	alice.run("asking for an hour instead",
		chromedp.SetValue(chromedp.CSS(`#duration`), "1h"),
		chromedp.Click(chromedp.CSS(`form.request button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="notice"]`)))
	name := get(alice, "reading the new request's name", chromedp.Evaluate[string](`new URL(location.href).searchParams.get('created') || ''`))
	if !strings.HasPrefix(name, "req-") {
		t.Fatalf("the request was created as %q", name)
	}
	row := fmt.Sprintf(`[data-testid="request-%s"]`, name)
	if phase := alice.text(row + ` [data-testid="phase"]`); phase != "Pending" {
		t.Fatalf("alice's new request is %q, want Pending", phase)
	}
	if got := alice.text(row + ` [data-testid="approvals"]`); got != "0 of 1" {
		t.Errorf("approvals shown as %q, want 0 of 1", got)
	}
	if !alice.exists(fmt.Sprintf(`[data-testid="withdraw-%s"]`, name)) {
		t.Error("alice's pending request has no withdraw button")
	}
	// Its clock starts when it is granted: no time left is shown yet.
	if alice.exists(row + ` [data-testid="time-left"]`) {
		t.Errorf("a pending request shows time left: %q", alice.text(row+` [data-testid="time-left"]`))
	}
	alice.screenshot(shots, "my-requests-pending")

	// alice's own request: no approve button, and a forged approval is
	// refused by the API.
	alice.open("/approvals", fmt.Sprintf(`[data-testid="pending-%s"] [data-testid="own-request"]`, name))
	if alice.exists(fmt.Sprintf(`[data-testid="approve-%s"]`, name)) {
		t.Fatal("alice is offered to approve her own request")
	}
	alice.forgePost("/requests/" + name + "/approve")
	if msg := alice.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") || !strings.Contains(msg, `"alice"`) {
		t.Fatalf("alice's forged approval shows %q, want the API's 403 naming alice", msg)
	}

	// dave: no Janus role, so no queue and no buttons; a forged approval
	// with his valid session is refused by the API, not by the console.
	dave := newBrowser(t, "dave")
	dave.signIn("dave")
	dave.open("/approvals", `[data-testid="no-queue"]`)
	if n := dave.count(`button[data-testid^="approve-"]`); n != 0 {
		t.Fatalf("dave sees %d approve buttons", n)
	}
	if msg := dave.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") {
		t.Errorf("dave's approvals page shows %q, want the API's 403", msg)
	}
	dave.screenshot(shots, "approvals-no-queue")
	dave.forgePost("/requests/" + name + "/approve")
	if msg := dave.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") || !strings.Contains(msg, `"dave"`) {
		t.Fatalf("dave's forged approval shows %q, want the API's 403 naming dave", msg)
	}
	dave.screenshot(shots, "forged-approval-403")

	// bob, in his own browser, approves it for 30m.
	bob := newBrowser(t, "bob")
	bob.signIn("bob")
	approve := fmt.Sprintf(`[data-testid="approve-%s"]`, name)
	bob.open("/approvals", approve)
	bob.screenshot(shots, "approvals")
	bob.run("approving for 30m",
		chromedp.SetValue(chromedp.CSS(fmt.Sprintf(`#approve-duration-%s`, name)), "30m"),
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`[data-testid="pending-%s"]`, name))))

	var phase string
	alice.eventually("/", row, 30*time.Second, "alice's request Approved or Active", func() bool {
		phase = alice.text(row + ` [data-testid="phase"]`)
		return phase == "Active" || phase == "Approved"
	})
	if got := alice.text(row + ` [data-testid="approvals"]`); got != "1 of 1" {
		t.Errorf("approvals shown as %q after bob's approval, want 1 of 1", got)
	}
	alice.eventually("/", row, 30*time.Second, "alice's request Active", func() bool {
		return alice.text(row+` [data-testid="phase"]`) == "Active"
	})
	if left := alice.text(row + ` [data-testid="time-left"]`); !strings.Contains(left, "in ") {
		t.Errorf("time left shown as %q, want \"ends in …\"", left)
	}
	alice.screenshot(shots, "my-requests-active")
}

// TestCrossOriginPostRefused: a form on another origin posting to the
// console is refused by CrossOriginProtection, even for a signed-in person.
func TestCrossOriginPostRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	evil := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form method="post" action="%s/request"><input type="hidden" name="cluster" value="dev"><input type="hidden" name="namespace" value="payments"><input type="hidden" name="duration" value="1h"><input type="hidden" name="reason" value="forged"><button type="submit" id="go">Win a prize</button></form>`, consoleURL)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = evil.Serve(ln) }()
	t.Cleanup(func() { _ = evil.Close() })

	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	alice.run("submitting the other origin's form",
		chromedp.Navigate("http://"+ln.Addr().String()+"/"),
		chromedp.Click(chromedp.CSS(`#go`)),
		chromedp.WaitVisible(chromedp.CSS(`body`)))
	alice.eventuallyText("cross-origin", 10*time.Second)
	if url := get(alice, "reading the address", chromedp.Location()); !strings.HasPrefix(url, consoleURL+"/request") {
		t.Fatalf("the forged form landed at %s", url)
	}
}

// eventuallyText waits until the page's text contains s.
func (b *browser) eventuallyText(s string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body := get(b, "reading the page", chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		if strings.Contains(strings.ToLower(body), s) {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page never said %q; it says %q", s, body)
		}
		time.Sleep(100 * time.Millisecond) // polling the page's text, bounded by the deadline
	}
}

// TestSignOutEndsSession: after sign-out the old cookie no longer works.
func TestSignOutEndsSession(t *testing.T) {
	shots := pageShots()
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	old := alice.sessionCookie()
	if old == nil {
		t.Fatal("no session cookie after sign-in")
	}
	if !old.HTTPOnly || !old.Secure || string(old.SameSite) != "Lax" {
		t.Errorf("session cookie: HttpOnly=%v Secure=%v SameSite=%q; want HttpOnly, Secure, Lax", old.HTTPOnly, old.Secure, old.SameSite)
	}
	status := func() int {
		req, _ := http.NewRequest(http.MethodGet, consoleURL+"/", nil)
		req.AddCookie(&http.Cookie{Name: old.Name, Value: old.Value})
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 10 * time.Second}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("replaying the cookie: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusOK {
		t.Fatalf("the session cookie before sign-out gives %d, want 200", got)
	}
	alice.run("signing out",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/auth/login"]`)))
	alice.screenshot(shots, "signed-out")
	if c := alice.sessionCookie(); c != nil {
		t.Error("the browser still holds a session cookie after sign-out")
	}
	if got := status(); got != http.StatusFound {
		t.Fatalf("the old session cookie after sign-out gives %d, want 302 to sign-in", got)
	}
	alice.run("opening the console again", chromedp.Navigate(consoleURL+"/"), chromedp.WaitVisible(chromedp.CSS(`input#username`)))
	alice.screenshot(shots, "provider-login")
}
