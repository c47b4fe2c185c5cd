package signin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/infroware/janus/pkg/console/cookie"
	"github.com/infroware/janus/pkg/console/testprovider"
)

const (
	aliceSub    = "6b1c0e3e-0000-4000-8000-000000000002"
	otherClient = "other-app"
	otherURL    = "http://127.0.0.1:1/other/callback" // never reached: the test stops at the redirect
)

// fixture is a real provider and a console's sign-in served over TLS.
type fixture struct {
	provider *testprovider.Provider
	console  *httptest.Server
	auth     *Authenticator
	sealer   *cookie.Sealer
}

func newFixture(t *testing.T, mutate func(*Config)) *fixture {
	t.Helper()
	f := &fixture{}
	var handler http.Handler = http.NotFoundHandler()
	f.console = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	f.console.StartTLS()
	t.Cleanup(f.console.Close)
	var err error
	f.provider, err = testprovider.Start(testprovider.Config{
		Users: []testprovider.User{
			{Username: "alice", Password: "pw", Subject: aliceSub, Email: "alice@janus.example", Groups: []string{"engineers"}},
			{Username: "mallory", Password: "pw", Subject: "m-1", Email: "mallory@elsewhere.example", Groups: []string{"engineers"}},
		},
		Clients: []testprovider.Client{
			{ID: "janus-console", Secret: "s3cret", RedirectURIs: []string{f.console.URL + CallbackPath}},
			{ID: otherClient, Secret: "other", RedirectURIs: []string{otherURL}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.provider.Close() })
	key := make([]byte, cookie.KeySize)
	_, _ = rand.Read(key)
	f.sealer, _ = cookie.NewSealer([][]byte{key})
	cfg := Config{
		IssuerURL: f.provider.Issuer, ClientID: "janus-console", ClientSecret: "s3cret", PublicURL: f.console.URL,
		Claims:              ClaimMapping{UsernameClaim: "preferred_username", UsernamePrefix: "-", GroupsClaim: "groups", GroupsPrefix: "oidc:"},
		ExtraScopes:         []string{testprovider.GroupsScope},
		AllowedEmailDomains: []string{"janus.example"},
		SessionLifetime:     time.Hour, Sealer: f.sealer,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	f.auth, err = New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	f.auth.Register(mux)
	mux.Handle("GET /{$}", f.auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(id)
	})))
	handler = mux
	return f
}

// browser is an HTTP client with cookies that trusts the console's TLS;
// stopAtCallback stops before the console's callback is called.
func (f *fixture) browser(t *testing.T, stopAtCallback bool) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := f.console.Client()
	c.Jar = jar
	c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if (stopAtCallback && req.URL.Path == CallbackPath) || strings.HasPrefix(req.URL.String(), otherURL) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return c
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestSignInMapsTheVerifiedClaims(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := f.provider.SignIn(f.browser(t, false), f.console.URL+"/", "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after sign-in: %d %s", resp.StatusCode, body)
	}
	var id Identity
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		t.Fatal(err)
	}
	if id.Username != "alice" || id.UID != aliceSub || len(id.Groups) != 1 || id.Groups[0] != "oidc:engineers" || id.Email != "alice@janus.example" {
		t.Fatalf("identity = %+v", id)
	}
}

// callbackURL runs the flow up to the console's callback and returns it.
func (f *fixture) callbackURL(t *testing.T, c *http.Client, user string) *url.URL {
	t.Helper()
	resp, err := f.provider.SignIn(c, f.console.URL+LoginPath, user, "pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Path != CallbackPath {
		t.Fatalf("the provider sent the browser to %v (%v), not the callback", loc, err)
	}
	return loc
}

func TestWrongStateIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser(t, true)
	cb := f.callbackURL(t, c, "alice")
	q := cb.Query()
	q.Set("state", "forged-"+q.Get("state"))
	cb.RawQuery = q.Encode()
	resp, err := c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "state") {
		t.Fatalf("forged state: %d %q", resp.StatusCode, body)
	}
}

func TestWrongNonceIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	c := f.browser(t, true)
	cb := f.callbackURL(t, c, "alice")
	consoleURL, _ := url.Parse(f.console.URL)
	var fl flow
	var found bool
	for _, ck := range c.Jar.Cookies(consoleURL) {
		if ck.Name == flowCookie {
			found = f.sealer.Open(flowCookie, ck.Value, &fl) == nil
		}
	}
	if !found {
		t.Fatal("no sign-in cookie in the browser")
	}
	fl.Nonce = "another-nonce"
	sealed, _ := f.sealer.Seal(flowCookie, fl, time.Now().Add(time.Minute))
	c.Jar.SetCookies(consoleURL, []*http.Cookie{{Name: flowCookie, Value: sealed, Path: "/", Secure: true}})
	resp, err := c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "nonce") {
		t.Fatalf("wrong nonce: %d %q", resp.StatusCode, body)
	}
}

func TestDisallowedEmailDomainIsRefused(t *testing.T) {
	f := newFixture(t, nil)
	resp, err := f.provider.SignIn(f.browser(t, false), f.console.URL+"/", "mallory", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "elsewhere.example") {
		t.Fatalf("mallory: %d %q", resp.StatusCode, body)
	}
}

// idTokenFor gets a real ID token for clientID from the provider.
func (f *fixture) idTokenFor(t *testing.T, clientID, secret, redirect, nonce string) string {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), f.provider.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	oc := oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
	verifier := oauth2.GenerateVerifier()
	c := f.browser(t, true)
	resp, err := f.provider.SignIn(c, oc.AuthCodeURL("st", oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	token, err := oc.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("no ID token")
	}
	return raw
}

func TestTokensThatAreNotOursAreRefused(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	ours := f.idTokenFor(t, "janus-console", "s3cret", f.console.URL+CallbackPath, "n1")
	if _, err := f.oidc(t).identityFromIDToken(ctx, ours, "n1"); err != nil {
		t.Fatalf("the console's own token is refused: %v", err)
	}
	wrongAudience := f.idTokenFor(t, otherClient, "other", otherURL, "n1")
	if _, err := f.oidc(t).identityFromIDToken(ctx, wrongAudience, "n1"); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("a token for another client: %v, want refused for its audience", err)
	}
	// An hour and a minute later the same token has expired.
	later := newFixture(t, func(c *Config) { c.Now = func() time.Time { return time.Now().Add(61 * time.Minute) } })
	latersToken := later.idTokenFor(t, "janus-console", "s3cret", later.console.URL+CallbackPath, "n1")
	if _, err := later.oidc(t).identityFromIDToken(ctx, latersToken, "n1"); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("an expired token: %v, want refused as expired", err)
	}
	// Unsigned (alg none) with the right claims.
	claims, _ := json.Marshal(map[string]any{"iss": f.provider.Issuer, "aud": "janus-console", "sub": aliceSub, "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "nonce": "n1", "preferred_username": "admin"})
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(claims) + "."
	if _, err := f.oidc(t).identityFromIDToken(ctx, unsigned, "n1"); err == nil {
		t.Error("an unsigned token was accepted")
	}
	var se *Error
	if _, err := f.oidc(t).identityFromIDToken(ctx, ours, "other-nonce"); !errors.As(err, &se) || !strings.Contains(se.Reason, "nonce") {
		t.Errorf("a token with another nonce: %v", err)
	}
}

func TestForgedOrTamperedSessionCookieIsNoSession(t *testing.T) {
	f := newFixture(t, nil)
	otherKey, _ := cookie.NewSealer([][]byte{make([]byte, cookie.KeySize)})
	forged, _ := otherKey.Seal(SessionCookie, session{ID: "x", Identity: Identity{Username: "admin", Groups: []string{"system:masters"}}, Expires: time.Now().Add(time.Hour).Unix()}, time.Now().Add(time.Hour))
	for name, value := range map[string]string{"sealed with another key": forged, "garbage": "abc", "empty": ""} {
		req, _ := http.NewRequest(http.MethodGet, f.console.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: SessionCookie, Value: value})
		c := f.browser(t, false)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc, _ := resp.Location(); resp.StatusCode != http.StatusFound || loc == nil || loc.Path != LoginPath {
			t.Errorf("%s: %d %v, want a redirect to sign in", name, resp.StatusCode, loc)
		}
	}
}

func TestClaimMapping(t *testing.T) {
	const iss = "https://issuer.example"
	cases := map[string]struct {
		m      ClaimMapping
		claims map[string]any
		want   string
		groups []string
		fails  bool
	}{
		"email by default":       {ClaimMapping{}, map[string]any{"email": "a@x.example", "email_verified": true}, "a@x.example", nil, false},
		"unverified email":       {ClaimMapping{}, map[string]any{"email": "a@x.example", "email_verified": false}, "", nil, true},
		"other claim, issuer #":  {ClaimMapping{UsernameClaim: "sub"}, map[string]any{"sub": "123"}, iss + "#123", nil, false},
		"prefix":                 {ClaimMapping{UsernameClaim: "sub", UsernamePrefix: "oidc:"}, map[string]any{"sub": "123"}, "oidc:123", nil, false},
		"no prefix":              {ClaimMapping{UsernameClaim: "sub", UsernamePrefix: "-"}, map[string]any{"sub": "123"}, "123", nil, false},
		"groups list":            {ClaimMapping{UsernameClaim: "sub", UsernamePrefix: "-", GroupsClaim: "g", GroupsPrefix: "p:"}, map[string]any{"sub": "1", "g": []any{"a", "b"}}, "1", []string{"p:a", "p:b"}, false},
		"groups string":          {ClaimMapping{UsernameClaim: "sub", UsernamePrefix: "-", GroupsClaim: "g"}, map[string]any{"sub": "1", "g": "a"}, "1", []string{"a"}, false},
		"groups of wrong type":   {ClaimMapping{UsernameClaim: "sub", UsernamePrefix: "-", GroupsClaim: "g"}, map[string]any{"sub": "1", "g": 7.0}, "", nil, true},
		"missing username claim": {ClaimMapping{UsernameClaim: "upn"}, map[string]any{"sub": "1"}, "", nil, true},
	}
	for name, tc := range cases {
		id, err := tc.m.Map(iss, tc.claims)
		if tc.fails {
			if err == nil {
				t.Errorf("%s: accepted as %+v", name, id)
			}
			continue
		}
		if err != nil || id.Username != tc.want || strings.Join(id.Groups, ",") != strings.Join(tc.groups, ",") {
			t.Errorf("%s: %+v, %v; want %q %v", name, id, err, tc.want, tc.groups)
		}
	}
}

// oidc is the fixture's OpenID Connect provider.
func (f *fixture) oidc(t *testing.T) *oidcProvider {
	t.Helper()
	p, ok := f.auth.idp.(*oidcProvider)
	if !ok {
		t.Fatalf("the fixture signs in with %T, not OpenID Connect", f.auth.idp)
	}
	return p
}

// TestKeptIDTokenBoundsTheSession: with KeepIDToken the session holds the
// verified ID token and ends when the token does, not after the longer
// session lifetime.
func TestKeptIDTokenBoundsTheSession(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.KeepIDToken, c.SessionLifetime = true, 8*time.Hour })
	c := f.browser(t, true)
	cb := f.callbackURL(t, c, "alice")
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(cb.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatalf("the callback (%d) set no session cookie", resp.StatusCode)
	}
	// The provider's ID tokens live an hour.
	if left := time.Until(session.Expires); left > time.Hour || left < 50*time.Minute {
		t.Errorf("the session cookie expires in %s, want the ID token's hour", left)
	}
	var s struct {
		Identity Identity `json:"id"`
		Expires  int64    `json:"exp"`
	}
	if err := f.sealer.Open(SessionCookie, session.Value, &s); err != nil {
		t.Fatal(err)
	}
	if time.Until(time.Unix(s.Expires, 0)) > time.Hour {
		t.Errorf("the session itself lasts until %s, past the ID token", time.Unix(s.Expires, 0))
	}
	if _, err := f.oidc(t).verifier.Verify(t.Context(), s.Identity.Token); err != nil {
		t.Errorf("the kept token is not the provider's verified ID token: %v", err)
	}

	// Without KeepIDToken nothing of the token is kept.
	plain := newFixture(t, nil)
	pc := plain.browser(t, true)
	pcb := plain.callbackURL(t, pc, "alice")
	pc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	presp, err := pc.Get(pcb.String())
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	for _, ck := range presp.Cookies() {
		if ck.Name != SessionCookie {
			continue
		}
		var ps struct {
			Identity Identity `json:"id"`
		}
		if err := plain.sealer.Open(SessionCookie, ck.Value, &ps); err != nil {
			t.Fatal(err)
		}
		if ps.Identity.Token != "" {
			t.Error("an impersonating console keeps the ID token in its session")
		}
	}
}
