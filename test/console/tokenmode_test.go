package console

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/infroware/janus/internal/consoleenv"
	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/server"
)

// TestTokenModeActsWithThePersonsOwnIDToken: a console started with
// --kube-auth=token and no credentials of its own, in front of a
// kube-apiserver that trusts the provider, acts as each person with
// their own ID token: alice's request is created by alice herself in the
// central audit log (no impersonation), and dave's RBAC still refuses him.
func TestTokenModeActsWithThePersonsOwnIDToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := consoleenv.Start(ctx, bed, consoleenv.Config{RepoRoot: repoRoot, WorkDir: t.TempDir(), KubeAuth: server.KubeAuthToken})
	if err != nil {
		t.Fatalf("starting a token-mode console: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the token-mode console: %v", err)
		}
	})
	if !strings.HasPrefix(c.Provider.Issuer, "https://") {
		t.Fatalf("the token-mode provider is at %s, want HTTPS", c.Provider.Issuer)
	}

	signIn := func(b *browser, user string) {
		t.Helper()
		b.run("opening the token-mode console and signing in as "+user,
			chromedp.Navigate(c.URL+"/"),
			chromedp.WaitVisible(chromedp.CSS(`input#username`)))
		if url := get(b, "reading the login page's address", chromedp.Location()); !strings.HasPrefix(url, c.Provider.Issuer) {
			t.Fatalf("the sign-in page is %s, not at the provider %s", url, c.Provider.Issuer)
		}
		b.run("signing in at the provider",
			chromedp.SendKeys(chromedp.CSS(`input#username`), user),
			chromedp.SendKeys(chromedp.CSS(`input#password`), user+"-password"),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="signed-in-as"]`)))
	}

	alice := newBrowser(t, "alice")
	signIn(alice, "alice")
	name := alice.requestThroughForm(c.URL, "token mode")

	aliceUser, _ := testenv.UserNamed("alice")
	isCreate := createdIn(t, ctx, name)
	err = testenv.WaitUntil(ctx, "the central audit log recording alice's own request", nil, func(context.Context) error {
		events, err := auditEventsIn(bed.AuditLogPath(), isCreate)
		switch {
		case err != nil:
			return testenv.Permanent(err)
		case len(events) == 0:
			return fmt.Errorf("no create event for %s yet", name)
		}
		e := events[0]
		switch {
		case e.ImpersonatedUser != nil:
			return testenv.Permanent(fmt.Errorf("token mode impersonated %+v", e.ImpersonatedUser))
		case e.User.Username != "alice" || !slices.Contains(e.User.Groups, aliceUser.Groups[0]):
			return testenv.Permanent(fmt.Errorf("the create event names %q in %v, want alice in %s", e.User.Username, e.User.Groups, aliceUser.Groups[0]))
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}

	// dave authenticates with his own token and RBAC refuses him: the
	// console adds no rights in token mode either.
	dave := newBrowser(t, "dave")
	signIn(dave, "dave")
	dave.run("opening dave's approvals", chromedp.Navigate(c.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="no-queue"]`)))
	if msg := dave.text(`[data-testid="api-error"]`); !strings.Contains(msg, "403") || !strings.Contains(msg, `"dave"`) {
		t.Errorf("dave's approvals page in token mode shows %q, want the API's 403 naming dave", msg)
	}
}
