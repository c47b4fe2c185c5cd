package signin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/console/cookie"
)

// gitHubStandIn plays github.com and api.github.com, which cannot be
// reached from here: the authorize page (the person has already said yes),
// the token endpoint with client secret and PKCE checks, and the REST
// answers the console reads. It is the only stand-in the console's tests
// use; every OpenID Connect test runs against a real provider.
type gitHubStandIn struct {
	t      *testing.T
	server *httptest.Server

	mu     sync.Mutex
	codes  map[string]string // code → its PKCE challenge
	tokens map[string]bool

	// What the signed-in person is.
	user   githubUser
	emails []githubEmail
	orgs   []githubOrg // served two to a page, with Link headers
	teams  []githubTeam
}

const (
	ghClientID     = "gh-client"
	ghClientSecret = "gh-secret"
)

func newGitHubStandIn(t *testing.T) *gitHubStandIn {
	g := &gitHubStandIn{t: t, codes: map[string]string{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	mux.HandleFunc("GET /api/v3/user", g.api(func(*http.Request) (any, string) { return g.user, "" }))
	mux.HandleFunc("GET /api/v3/user/emails", g.api(func(*http.Request) (any, string) { return g.emails, "" }))
	mux.HandleFunc("GET /api/v3/user/teams", g.api(func(*http.Request) (any, string) { return g.teams, "" }))
	mux.HandleFunc("GET /api/v3/user/orgs", g.api(func(r *http.Request) (any, string) {
		page := 1
		fmt.Sscan(r.URL.Query().Get("page"), &page)
		from, to := min(2*(page-1), len(g.orgs)), min(2*page, len(g.orgs))
		next := ""
		if to < len(g.orgs) {
			next = fmt.Sprintf(`<%s/api/v3/user/orgs?per_page=2&page=%d>; rel="next", <%s/api/v3/user/orgs?page=1>; rel="first"`, g.server.URL, page+1, g.server.URL)
		}
		return g.orgs[from:to], next
	}))
	g.server = httptest.NewServer(mux)
	t.Cleanup(g.server.Close)
	return g
}

func (g *gitHubStandIn) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != ghClientID || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") == "" {
		http.Error(w, "bad authorize request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	if scopes := q.Get("scope"); !strings.Contains(scopes, "read:org") || !strings.Contains(scopes, "user:email") {
		http.Error(w, "the console must ask for read:org and user:email, asked "+scopes, http.StatusBadRequest)
		return
	}
	code := rand.Text()
	g.mu.Lock()
	g.codes[code] = q.Get("code_challenge")
	g.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (g *gitHubStandIn) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	g.mu.Lock()
	challenge, ok := g.codes[f.Get("code")]
	delete(g.codes, f.Get("code"))
	g.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	w.Header().Set("Content-Type", "application/json")
	switch {
	case f.Get("client_id") != ghClientID || f.Get("client_secret") != ghClientSecret:
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "incorrect_client_credentials"})
		return
	case !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge:
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code"})
		return
	}
	token := "gho_" + rand.Text()
	g.mu.Lock()
	g.tokens[token] = true
	g.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]string{"access_token": token, "token_type": "bearer", "scope": strings.Join(githubScopes, ",")})
}

func (g *gitHubStandIn) api(answer func(*http.Request) (any, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		g.mu.Lock()
		known := g.tokens[token]
		g.mu.Unlock()
		if !known || r.URL.Query().Has("access_token") {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"message":"Bad credentials"}`))
			return
		}
		body, next := answer(r)
		if next != "" {
			w.Header().Set("Link", next)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}
}

// gitHubFixture is a console signing people in with the stand-in.
func gitHubFixture(t *testing.T, gh *gitHubStandIn, orgs, domains []string) (*httptest.Server, *Authenticator) {
	t.Helper()
	var handler http.Handler
	console := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	console.StartTLS()
	t.Cleanup(console.Close)
	key := make([]byte, cookie.KeySize)
	_, _ = rand.Read(key)
	sealer, _ := cookie.NewSealer([][]byte{key})
	auth, err := New(t.Context(), Config{
		ClientID: ghClientID, ClientSecret: ghClientSecret, PublicURL: console.URL,
		GitHub:              &GitHubConfig{URL: gh.server.URL, Orgs: orgs, UsernamePrefix: "github:", GroupsPrefix: "github:"},
		AllowedEmailDomains: domains, SessionLifetime: time.Hour, Sealer: sealer,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	auth.Register(mux)
	mux.Handle("GET /{$}", auth.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(id)
	})))
	handler = mux
	return console, auth
}

// signInWithGitHub follows the whole flow in a browser with cookies and
// returns the console's last answer.
func signInWithGitHub(t *testing.T, console *httptest.Server) (int, string) {
	t.Helper()
	c := (&fixture{console: console}).browser(t, false)
	resp, err := c.Get(console.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func aliceAtGitHub(gh *gitHubStandIn) {
	gh.user = githubUser{Login: "alice-gh", ID: 4242}
	gh.emails = []githubEmail{
		{Email: "alice@unverified.example", Verified: false},
		{Email: "old@janus.example", Verified: true},
		{Email: "alice@janus.example", Primary: true, Verified: true},
	}
	gh.orgs = []githubOrg{{Login: "some-oss"}, {Login: "other"}, {Login: "Infroware"}}
	gh.teams = []githubTeam{
		{Slug: "sre", Organization: githubOrg{Login: "Infroware"}},
		{Slug: "maintainers", Organization: githubOrg{Login: "some-oss"}},
	}
}

func TestGitHubSignInMapsUserEmailOrgsAndTeams(t *testing.T) {
	gh := newGitHubStandIn(t)
	aliceAtGitHub(gh)
	console, _ := gitHubFixture(t, gh, []string{"infroware"}, []string{"janus.example"})
	status, body := signInWithGitHub(t, console)
	if status != http.StatusOK {
		t.Fatalf("signing in with GitHub: %d %s", status, body)
	}
	var id Identity
	if err := json.Unmarshal([]byte(body), &id); err != nil {
		t.Fatal(err)
	}
	// Only the allowed organization (found on the second page of orgs)
	// and its team become groups; the primary verified address is the
	// e-mail.
	if id.Username != "github:alice-gh" || id.UID != "4242" || id.Email != "alice@janus.example" ||
		strings.Join(id.Groups, ",") != "github:Infroware,github:Infroware:sre" {
		t.Fatalf("identity = %+v", id)
	}
}

func TestGitHubUserOutsideTheAllowedOrgsIsRefused(t *testing.T) {
	gh := newGitHubStandIn(t)
	aliceAtGitHub(gh)
	gh.orgs = []githubOrg{{Login: "some-oss"}}
	console, _ := gitHubFixture(t, gh, []string{"infroware"}, nil)
	if status, body := signInWithGitHub(t, console); status != http.StatusForbidden || !strings.Contains(body, "not a member of infroware") {
		t.Fatalf("a non-member: %d %q, want 403 naming the organization", status, body)
	}
}

func TestGitHubUnverifiedEmailIsNotAnAllowedDomain(t *testing.T) {
	gh := newGitHubStandIn(t)
	aliceAtGitHub(gh)
	gh.emails = []githubEmail{{Email: "alice@janus.example", Primary: true, Verified: false}}
	console, _ := gitHubFixture(t, gh, nil, []string{"janus.example"})
	if status, body := signInWithGitHub(t, console); status != http.StatusForbidden || !strings.Contains(body, "allowed domain") {
		t.Fatalf("an unverified address: %d %q, want 403", status, body)
	}
}

func TestGitHubRefusedTokenIsNoSession(t *testing.T) {
	gh := newGitHubStandIn(t)
	aliceAtGitHub(gh)
	console, auth := gitHubFixture(t, gh, nil, nil)
	// The console is registered with another secret than GitHub knows.
	auth.idp.(*githubProvider).oauth.ClientSecret = "stale-secret"
	if status, body := signInWithGitHub(t, console); status != http.StatusUnauthorized || !strings.Contains(body, "incorrect_client_credentials") {
		t.Fatalf("a refused code exchange: %d %q, want 401 with GitHub's error", status, body)
	}
}

func TestNextPageStaysOnTheAPIHost(t *testing.T) {
	api, _ := url.Parse("https://api.github.com")
	cases := map[string]string{
		`<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last"`: "https://api.github.com/user/orgs?page=2",
		`<https://api.github.com/user/orgs?page=1>; rel="first"`:                                                       "",
		`<https://evil.example/steal?page=2>; rel="next"`:                                                              "",
		`<http://api.github.com/user/orgs?page=2>; rel="next"`:                                                         "",
		``: "",
	}
	for link, want := range cases {
		if got := nextPage(link, api); got != want {
			t.Errorf("nextPage(%q) = %q, want %q", link, got, want)
		}
	}
}

func TestGitHubAPIAddress(t *testing.T) {
	for base, want := range map[string]string{
		"https://github.com":             "https://api.github.com",
		"https://git.corp.example/":      "https://git.corp.example/api/v3",
		"https://git.corp.example:8443/": "https://git.corp.example:8443/api/v3",
	} {
		p, err := newGitHubProvider(GitHubConfig{URL: base}, "id", "secret", "https://console.example/auth/callback", nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.api.String() != want {
			t.Errorf("API of %s = %s, want %s", base, p.api, want)
		}
	}
}
