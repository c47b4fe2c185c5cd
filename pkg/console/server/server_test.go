package server

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/console/cookie"
	"github.com/infroware/janus/pkg/console/testprovider"
)

// TestImpersonationComesOnlyFromTheVerifiedToken: whatever Impersonate-*
// headers the browser sends, the API sees the signed-in person.
func TestImpersonationComesOnlyFromTheVerifiedToken(t *testing.T) {
	var mu sync.Mutex
	var seen []http.Header
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"AccessRequestList","apiVersion":"janus.infroware.io/v1alpha1","metadata":{},"items":[]}`)
	}))
	defer api.Close()

	var handler http.Handler = http.NotFoundHandler()
	console := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	console.StartTLS()
	defer console.Close()
	provider, err := testprovider.Start(testprovider.Config{
		Users:   []testprovider.User{{Username: "alice", Password: "pw", Subject: "uid-alice", Email: "alice@janus.example", Groups: []string{"engineers"}}},
		Clients: []testprovider.Client{{ID: "janus-console", Secret: "s3cret", RedirectURIs: []string{console.URL + "/auth/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer provider.Close()

	dir := t.TempDir()
	key, _ := cookie.NewKey()
	keys, secret := filepath.Join(dir, "keys"), filepath.Join(dir, "secret")
	_ = os.WriteFile(keys, []byte(key+"\n"), 0o600)
	_ = os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	o := NewOptions()
	o.IssuerURL, o.ClientID, o.ClientSecretFile, o.CookieKeysFile = provider.Issuer, "janus-console", secret, keys
	o.UsernameClaim, o.UsernamePrefix, o.GroupsClaim = "preferred_username", "-", "groups"
	o.ExtraScopes = []string{testprovider.GroupsScope}
	o.PublicURL, o.HTTPPort = console.URL, 1
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	// The console's own identity, which even asks to impersonate someone:
	// that too is replaced.
	base := &rest.Config{Host: api.URL, TLSClientConfig: rest.TLSClientConfig{Insecure: true}, BearerToken: "console-token",
		Impersonate: rest.ImpersonationConfig{UserName: "system:admin"}}
	cfg, err := o.Config(context.Background(), base)
	if err != nil {
		t.Fatal(err)
	}
	handler = cfg.Handler()

	jar, _ := cookiejar.New(nil)
	browser := console.Client()
	browser.Jar = jar
	resp, err := provider.SignIn(browser, console.URL+"/", "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after sign-in: %d", resp.StatusCode)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	mu.Lock()
	seen = nil
	mu.Unlock()
	req, _ := http.NewRequest(http.MethodGet, console.URL+"/", nil)
	req.Header.Set("Impersonate-User", "admin")
	req.Header.Add("Impersonate-Group", "system:masters")
	req.Header.Set("Impersonate-Uid", "0")
	req.Header.Set("X-Remote-User", "admin")
	resp, err = browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("My requests: %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the API was not called")
	}
	for _, h := range seen {
		if got := h.Values("Impersonate-User"); len(got) != 1 || got[0] != "alice" {
			t.Errorf("Impersonate-User %v, want [alice]", got)
		}
		if got := h.Values("Impersonate-Group"); len(got) != 1 || got[0] != "engineers" {
			t.Errorf("Impersonate-Group %v, want [engineers]", got)
		}
		if got := h.Get("Impersonate-Uid"); got != "uid-alice" {
			t.Errorf("Impersonate-Uid %q, want uid-alice", got)
		}
		if got := h.Get("X-Remote-User"); got != "" {
			t.Errorf("X-Remote-User %q reached the API", got)
		}
		if got := h.Get("Authorization"); got != "Bearer console-token" {
			t.Errorf("the API saw Authorization %q, want the console's own token", got)
		}
	}
}

// TestCrossOriginPostIsRefused: CrossOriginProtection answers 403 before
// any handler runs.
func TestCrossOriginPostIsRefused(t *testing.T) {
	called := false
	h := Protect(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
	req := httptest.NewRequest(http.MethodPost, "https://console.example/request", strings.NewReader("reason=x"))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || called {
		t.Fatalf("cross-site POST: %d, handler called %v", rec.Code, called)
	}
	req = httptest.NewRequest(http.MethodPost, "https://console.example/request", nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if !called {
		t.Fatalf("same-origin POST refused: %d", rec.Code)
	}
}
