package console

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/infroware/janus/internal/consoleenv"
)

// TestSignOutReachesEveryReplica: two replicas share cookie keys and the
// sign-out ConfigMap; alice's session works on both, and once she signs
// out on one, the other refuses her old cookie too, within a second.
func TestSignOutReachesEveryReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	replica, err := consoleenv.Start(ctx, bed, consoleenv.Config{RepoRoot: repoRoot, WorkDir: t.TempDir(), ReplicaOf: primary})
	if err != nil {
		t.Fatalf("starting a second replica: %v", err)
	}
	t.Cleanup(func() {
		if err := replica.Stop(); err != nil {
			t.Errorf("stopping the replica: %v", err)
		}
	})

	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	session := alice.sessionCookie()
	if session == nil {
		t.Fatal("no session cookie after sign-in")
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(base string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s/: %v", base, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(replica.URL); got != http.StatusOK {
		t.Fatalf("alice's cookie on the other replica gives %d, want 200", got)
	}

	alice.run("signing out on the first replica",
		chromedp.Click(chromedp.CSS(`form.signout button`)),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/auth/login"]`)))
	signedOut := time.Now()
	for status(replica.URL) != http.StatusFound {
		if time.Since(signedOut) > 5*time.Second {
			t.Fatalf("the other replica still lets alice's old cookie in %s after she signed out", time.Since(signedOut).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond) // polling the replica, bounded by the deadline above
	}
	took := time.Since(signedOut)
	t.Logf("the other replica refused the signed-out cookie %s after sign-out", took.Round(time.Millisecond))
	if took > time.Second {
		t.Errorf("the sign-out took %s to reach the other replica, want under 1s", took.Round(time.Millisecond))
	}
	if got := status(primary.URL); got != http.StatusFound {
		t.Errorf("the replica alice signed out on gives %d for her old cookie, want 302", got)
	}
}
