package testprovider

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// GroupsScope asks for the groups claim.
const GroupsScope = "groups"

// User is a demo identity of the provider.
type User struct {
	// Username is typed into the login form and is the preferred_username claim.
	Username string
	Password string
	// Subject is the sub claim.
	Subject string
	Email   string
	Groups  []string
}

// Client is a registered relying party.
type Client struct {
	ID           string
	Secret       string
	RedirectURIs []string
}

// Config says what the provider serves.
type Config struct {
	Users   []User
	Clients []Client
	// IDTokenLifetime defaults to an hour.
	IDTokenLifetime time.Duration
	// Addr to listen on; defaults to 127.0.0.1:0.
	Addr string
	// TLSCertPEM and TLSKeyPEM, when set, serve the issuer over HTTPS, as
	// kube-apiserver requires of an issuer it trusts; plain HTTP otherwise.
	TLSCertPEM, TLSKeyPEM []byte
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is the issuer URL (http(s)://127.0.0.1:<port>).
	Issuer string
	server *http.Server
	done   chan error
}

// Start listens and serves the provider until Close.
func Start(cfg Config) (*Provider, error) {
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("test OpenID provider: listening: %w", err)
	}
	issuer := "http://" + ln.Addr().String()
	if cfg.TLSCertPEM != nil {
		pair, err := tls.X509KeyPair(cfg.TLSCertPEM, cfg.TLSKeyPEM)
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("test OpenID provider: loading its serving certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
		issuer = "https://" + ln.Addr().String()
	}
	handler, err := newHandler(issuer, cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	p := &Provider{Issuer: issuer, server: &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}, done: make(chan error, 1)}
	go func() { p.done <- p.server.Serve(ln) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.server.Shutdown(ctx)
	if serveErr := <-p.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func newHandler(issuer string, cfg Config) (http.Handler, error) {
	lifetime := cfg.IDTokenLifetime
	if lifetime == 0 {
		lifetime = time.Hour
	}
	users := userStore{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for _, u := range cfg.Users {
		users.byID[u.Subject] = &storage.User{
			ID: u.Subject, Username: u.Username, Password: u.Password,
			FirstName: u.Username, Email: u.Email, EmailVerified: true,
			PreferredLanguage: language.English,
		}
		users.groups[u.Subject] = u.Groups
	}
	exampleClients := map[string]*storage.Client{}
	clients := map[string]*client{}
	for _, c := range cfg.Clients {
		ec := storage.WebClient(c.ID, c.Secret, c.RedirectURIs...)
		exampleClients[c.ID] = ec
		clients[c.ID] = &client{Client: ec, lifetime: lifetime}
	}
	st := &groupStorage{Storage: storage.NewStorageWithClients(users, exampleClients), users: users, clients: clients}

	key := sha256.Sum256([]byte(issuer))
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:                key,
		DefaultLogoutRedirectURI: "/logged-out",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedUILocales:       []language.Tag{language.English},
	}, st, op.StaticIssuer(issuer), providerOptions(issuer)...)
	if err != nil {
		return nil, fmt.Errorf("test OpenID provider: %w", err)
	}
	login := &loginUI{storage: st, callback: op.AuthCallbackURL(provider)}
	interceptor := op.NewIssuerInterceptor(provider.IssuerFromRequest)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", login.show)
	mux.Handle("POST /login", interceptor.HandlerFunc(login.check))
	mux.HandleFunc("GET /logged-out", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("signed out"))
	})
	mux.Handle("/", provider)
	return mux, nil
}

func providerOptions(issuer string) []op.Option {
	var opts []op.Option
	if strings.HasPrefix(issuer, "http://") {
		// Plain HTTP on loopback, for the tests and the playground.
		opts = append(opts, op.WithAllowInsecure())
	}
	return opts
}

// userStore holds the demo users for the example storage.
type userStore struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }
func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, user := range u.byID {
		if user.Username == name {
			return user
		}
	}
	return nil
}
func (u userStore) ExampleClientID() string { return storage.ServiceUserID }

// groupStorage is the example storage with our clients and a groups claim.
type groupStorage struct {
	*storage.Storage
	users   userStore
	clients map[string]*client
}

func (s *groupStorage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	return c, nil
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, userinfo *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, userinfo, token, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, GroupsScope) {
		userinfo.AppendClaims("groups", s.users.groups[token.GetSubject()])
	}
	return nil
}

// client puts the user's claims into the ID token and sends them to our
// login page.
type client struct {
	*storage.Client
	lifetime time.Duration
}

func (c *client) LoginURL(id string) string            { return "/login?authRequestID=" + id }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) IDTokenLifetime() time.Duration       { return c.lifetime }
func (c *client) IsScopeAllowed(scope string) bool     { return scope == GroupsScope }
func (c *client) RedirectURIGlobs() []string           { return nil }
func (c *client) PostLogoutRedirectURIGlobs() []string { return nil }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

type loginUI struct {
	storage  *groupStorage
	callback func(context.Context, string) string
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in — test OpenID provider</title></head>
<body><main>
<h1>Test OpenID provider</h1>
<form method="post" action="/login">
<input type="hidden" name="id" value="{{.ID}}">
<p><label for="username">Username</label> <input id="username" name="username" autocomplete="username"></p>
<p><label for="password">Password</label> <input id="password" name="password" type="password" autocomplete="current-password"></p>
{{if .Error}}<p role="alert" data-testid="login-error">{{.Error}}</p>{{end}}
<p><button type="submit">Sign in</button></p>
</form></main></body></html>`))

func (l *loginUI) show(w http.ResponseWriter, r *http.Request) {
	l.render(w, r.URL.Query().Get("authRequestID"), "")
}

func (l *loginUI) render(w http.ResponseWriter, id, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := loginPage.Execute(w, struct{ ID, Error string }{id, msg}); err != nil {
		http.Error(w, "rendering the login page failed", http.StatusInternalServerError)
	}
}

func (l *loginUI) check(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot parse the form", http.StatusBadRequest)
		return
	}
	id := r.FormValue("id")
	if err := l.storage.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id); err != nil {
		l.render(w, id, "Wrong username or password.")
		return
	}
	http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
}
