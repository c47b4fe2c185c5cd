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

// apiSeen is a stand-in API that records the headers of every call. It
// checks what the console sends, so the headers are the point; the real
// kube-apiserver is in test/console.
type apiSeen struct {
	mu   sync.Mutex
	seen []http.Header
}

func (a *apiSeen) headers() []http.Header {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen
}

func (a *apiSeen) reset() {
	a.mu.Lock()
	a.seen = nil
	a.mu.Unlock()
}

// signedInConsole runs a console in front of a recording API, with opts
// changed by mutate, and signs alice in; it returns her browser.
func signedInConsole(t *testing.T, mutate func(*Options)) (*http.Client, string, *apiSeen) {
	t.Helper()
	seen := &apiSeen{}
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.seen = append(seen.seen, r.Header.Clone())
		seen.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"kind":"AccessRequestList","apiVersion":"janus.infroware.io/v1alpha1","metadata":{},"items":[]}`)
	}))
	t.Cleanup(api.Close)

	var handler http.Handler = http.NotFoundHandler()
	console := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	console.StartTLS()
	t.Cleanup(console.Close)
	provider, err := testprovider.Start(testprovider.Config{
		Users:   []testprovider.User{{Username: "alice", Password: "pw", Subject: "uid-alice", Email: "alice@janus.example", Groups: []string{"engineers"}}},
		Clients: []testprovider.Client{{ID: "janus-console", Secret: "s3cret", RedirectURIs: []string{console.URL + "/auth/callback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = provider.Close() })

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
	if mutate != nil {
		mutate(o)
	}
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
	return browser, console.URL, seen
}

// forgeImpersonation asks for My requests with every header a browser
// could send to be someone else, and returns what the API saw.
func forgeImpersonation(t *testing.T, browser *http.Client, consoleURL string, seen *apiSeen) []http.Header {
	t.Helper()
	seen.reset()
	req, _ := http.NewRequest(http.MethodGet, consoleURL+"/", nil)
	req.Header.Set("Impersonate-User", "admin")
	req.Header.Add("Impersonate-Group", "system:masters")
	req.Header.Set("Impersonate-Uid", "0")
	req.Header.Set("X-Remote-User", "admin")
	req.Header.Set("Authorization", "Bearer forged")
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("My requests: %d", resp.StatusCode)
	}
	h := seen.headers()
	if len(h) == 0 {
		t.Fatal("the API was not called")
	}
	return h
}

// TestImpersonationComesOnlyFromTheVerifiedToken: whatever Impersonate-*
// headers the browser sends, the API sees the signed-in person.
func TestImpersonationComesOnlyFromTheVerifiedToken(t *testing.T) {
	browser, consoleURL, seen := signedInConsole(t, nil)
	for _, h := range forgeImpersonation(t, browser, consoleURL, seen) {
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

// TestTokenModeSendsThePersonsOwnIDToken: with --kube-auth=token the API
// sees alice's ID token and no impersonation, and never the console's own
// credentials.
func TestTokenModeSendsThePersonsOwnIDToken(t *testing.T) {
	browser, consoleURL, seen := signedInConsole(t, func(o *Options) { o.KubeAuth = KubeAuthToken })
	for _, h := range forgeImpersonation(t, browser, consoleURL, seen) {
		for _, name := range []string{"Impersonate-User", "Impersonate-Group", "Impersonate-Uid", "X-Remote-User"} {
			if got := h.Values(name); len(got) != 0 {
				t.Errorf("%s %v reached the API in token mode", name, got)
			}
		}
		token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
		if !ok || strings.Count(token, ".") != 2 || token == "console-token" || token == "forged" {
			t.Errorf("the API saw Authorization %q, want alice's ID token (a JWT)", h.Get("Authorization"))
		}
	}
}

func TestKubeAuthIsValidated(t *testing.T) {
	o := NewOptions()
	o.KubeAuth = "both"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "--kube-auth") {
		t.Errorf("--kube-auth=both: %v", err)
	}
	o = NewOptions()
	o.KubeAuth, o.GitHubClientID = KubeAuthToken, "gh"
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "GitHub issues no ID token") {
		t.Errorf("--kube-auth=token with GitHub: %v", err)
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
