package signin

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/console/cookie"
)

// Cookie names. The __Host- prefix binds them to the console's own origin
// (Secure, Path=/, no Domain).
const (
	SessionCookie = "__Host-janus-session"
	flowCookie    = "__Host-janus-signin"
	flowLifetime  = 10 * time.Minute
)

// Paths the Authenticator serves.
const (
	LoginPath    = "/auth/login"
	CallbackPath = "/auth/callback"
	LogoutPath   = "/auth/logout"
)

// Config configures an Authenticator: people sign in at the OpenID
// Connect issuer IssuerURL, or at GitHub when GitHub is set.
type Config struct {
	IssuerURL    string
	ClientID     string
	ClientSecret string
	// PublicURL is where browsers reach the console; the redirect URL is
	// PublicURL + CallbackPath.
	PublicURL string
	Claims    ClaimMapping
	// ExtraScopes are asked for besides openid, email and profile (e.g.
	// "groups").
	ExtraScopes []string
	// AllowedEmailDomains, when set, refuse anyone whose email is elsewhere.
	AllowedEmailDomains []string
	SessionLifetime     time.Duration
	Sealer              *cookie.Sealer
	// KeepIDToken keeps the verified ID token in the session (Identity.
	// Token) for a console that calls kube-apiserver with it instead of
	// impersonating; a session then ends when its token expires.
	KeepIDToken bool
	// Revocations, when not nil, hold sign-outs (shared by replicas, say);
	// nil keeps them in this replica's memory.
	Revocations Revocations
	// GitHub, when not nil, signs people in with GitHub (OAuth2) instead of
	// an OpenID Connect issuer; IssuerURL, Claims and ExtraScopes are then
	// unused.
	GitHub *GitHubConfig
	// HTTPClient talks to the issuer; nil for http.DefaultClient.
	HTTPClient *http.Client
	// Now is the clock for token expiry and sessions; nil for time.Now.
	Now func() time.Time
}

// Authenticator serves sign-in, callback and sign-out, and tells who a
// request is from.
type Authenticator struct {
	cfg Config
	idp identityProvider
	now func() time.Time

	signouts Revocations
}

// Revocations are the sessions signed out before they expired.
type Revocations interface {
	// Revoke records that the session with this ID ended; until is when
	// its cookie expires anyway.
	Revoke(ctx context.Context, sessionID string, until time.Time) error
	// Revoked says whether the session was revoked.
	Revoked(sessionID string) bool
}

// localRevocations keeps sign-outs in this replica's memory only.
type localRevocations struct {
	now     func() time.Time
	mu      sync.Mutex
	revoked map[string]time.Time // session ID → when its cookie expires anyway
}

func (l *localRevocations) Revoke(_ context.Context, id string, until time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for k, exp := range l.revoked {
		if now.After(exp) {
			delete(l.revoked, k)
		}
	}
	l.revoked[id] = until
	return nil
}

func (l *localRevocations) Revoked(id string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.revoked[id]
	return ok
}

// session is what the session cookie holds.
type session struct {
	ID       string   `json:"s"`
	Identity Identity `json:"id"`
	Expires  int64    `json:"exp"`
}

// flow is what the sign-in cookie holds between login and callback.
type flow struct {
	State    string `json:"st"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r,omitempty"`
}

// identityProvider is where people sign in: it makes the authorization
// URL and turns the code the browser brings back into an Identity.
type identityProvider interface {
	// authCodeURL is where the browser goes to sign in; nonce is bound to
	// an ID token where the provider issues one.
	authCodeURL(state, nonce, pkceVerifier string) string
	// identity exchanges code (with the PKCE verifier) and returns who
	// signed in, or an *Error saying why not.
	identity(ctx context.Context, code, pkceVerifier, nonce string) (Identity, error)
}

// New discovers the issuer (or sets up GitHub) and returns an
// Authenticator.
func New(ctx context.Context, cfg Config) (*Authenticator, error) {
	if cfg.Sealer == nil {
		return nil, errors.New("signin: a cookie sealer is required")
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	redirect := strings.TrimSuffix(cfg.PublicURL, "/") + CallbackPath
	var (
		idp identityProvider
		err error
	)
	if cfg.GitHub != nil {
		idp, err = newGitHubProvider(*cfg.GitHub, cfg.ClientID, cfg.ClientSecret, redirect, cfg.HTTPClient)
	} else {
		idp, err = newOIDCProvider(ctx, cfg, redirect, now)
	}
	if err != nil {
		return nil, err
	}
	signouts := cfg.Revocations
	if signouts == nil {
		signouts = &localRevocations{now: now, revoked: map[string]time.Time{}}
	}
	return &Authenticator{cfg: cfg, idp: idp, now: now, signouts: signouts}, nil
}

// Register adds the sign-in routes to mux.
func (a *Authenticator) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET "+LoginPath, a.login)
	mux.HandleFunc("GET "+CallbackPath, a.callback)
	mux.HandleFunc("POST "+LogoutPath, a.logout)
}

func randomString() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *Authenticator) setCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", Expires: expires,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// safeReturn keeps only a local path, so sign-in cannot redirect elsewhere.
func safeReturn(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") || strings.HasPrefix(p, "/auth/") {
		return "/"
	}
	return p
}

func (a *Authenticator) login(w http.ResponseWriter, r *http.Request) {
	f := flow{State: randomString(), Nonce: randomString(), Verifier: oauth2.GenerateVerifier(), ReturnTo: safeReturn(r.URL.Query().Get("return"))}
	expires := a.now().Add(flowLifetime)
	sealed, err := a.cfg.Sealer.Seal(flowCookie, f, expires)
	if err != nil {
		klog.ErrorS(err, "Starting sign-in")
		http.Error(w, "sign-in failed; try again", http.StatusInternalServerError)
		return
	}
	a.setCookie(w, flowCookie, sealed, expires)
	http.Redirect(w, r, a.idp.authCodeURL(f.State, f.Nonce, f.Verifier), http.StatusFound)
}

// Error is a sign-in refusal shown to the person.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return e.Reason }

func refuse(status int, format string, args ...any) error {
	return &Error{Status: status, Reason: fmt.Sprintf(format, args...)}
}

func (a *Authenticator) callback(w http.ResponseWriter, r *http.Request) {
	id, returnTo, err := a.finish(r)
	clearCookie(w, flowCookie)
	if err != nil {
		status := http.StatusInternalServerError
		var se *Error
		if errors.As(err, &se) {
			status = se.Status
		}
		klog.InfoS("Sign-in refused", "reason", err.Error())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "Sign-in refused: %s\n\nStart again at %s\n", err.Error(), LoginPath)
		return
	}
	if err := a.startSession(w, id); err != nil {
		klog.ErrorS(err, "Starting a session")
		http.Error(w, "sign-in failed; try again", http.StatusInternalServerError)
		return
	}
	klog.InfoS("Signed in", "user", id.Username, "uid", id.UID, "groups", id.Groups)
	http.Redirect(w, r, returnTo, http.StatusFound)
}

// finish checks the callback against the flow cookie and the issuer.
func (a *Authenticator) finish(r *http.Request) (Identity, string, error) {
	c, err := r.Cookie(flowCookie)
	if err != nil {
		return Identity{}, "", refuse(http.StatusBadRequest, "no sign-in in progress in this browser (or it took longer than %s)", flowLifetime)
	}
	var f flow
	if err := a.cfg.Sealer.Open(flowCookie, c.Value, &f); err != nil {
		return Identity{}, "", refuse(http.StatusBadRequest, "the sign-in cookie is invalid or expired")
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return Identity{}, "", refuse(http.StatusBadRequest, "the state does not match the sign-in this browser started")
	}
	if e := q.Get("error"); e != "" {
		return Identity{}, "", refuse(http.StatusUnauthorized, "the identity provider said %s: %s", e, q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		return Identity{}, "", refuse(http.StatusBadRequest, "the identity provider sent no code")
	}
	id, err := a.idp.identity(r.Context(), code, f.Verifier, f.Nonce)
	if err != nil {
		return Identity{}, "", err
	}
	if !emailAllowed(id.Email, a.cfg.AllowedEmailDomains) {
		return Identity{}, "", refuse(http.StatusForbidden, "the email %q is not in an allowed domain (%s)", id.Email, strings.Join(a.cfg.AllowedEmailDomains, ", "))
	}
	return id, f.ReturnTo, nil
}

func (a *Authenticator) startSession(w http.ResponseWriter, id Identity) error {
	expires := a.now().Add(a.cfg.SessionLifetime)
	if id.Token != "" && id.TokenExpires.Before(expires) {
		expires = id.TokenExpires
	}
	sealed, err := a.cfg.Sealer.Seal(SessionCookie, session{ID: randomString(), Identity: id, Expires: expires.Unix()}, expires)
	if err != nil {
		return err
	}
	a.setCookie(w, SessionCookie, sealed, expires)
	return nil
}

// sessionOf returns the valid, unrevoked session of r.
func (a *Authenticator) sessionOf(r *http.Request) (session, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := a.cfg.Sealer.Open(SessionCookie, c.Value, &s); err != nil {
		return session{}, false
	}
	if !a.now().Before(time.Unix(s.Expires, 0)) {
		return session{}, false
	}
	return s, !a.signouts.Revoked(s.ID)
}

func (a *Authenticator) logout(w http.ResponseWriter, r *http.Request) {
	if s, ok := a.sessionOf(r); ok {
		if err := a.signouts.Revoke(r.Context(), s.ID, time.Unix(s.Expires, 0)); err != nil {
			// This replica refuses the session already; the browser's
			// cookie is cleared below.
			klog.ErrorS(err, "Sharing a sign-out with the other replicas", "user", s.Identity.Username)
		}
		klog.InfoS("Signed out", "user", s.Identity.Username)
	}
	clearCookie(w, SessionCookie)
	http.Redirect(w, r, "/signed-out", http.StatusSeeOther)
}

// SignedIn says whether r still carries a valid, unrevoked session.
func (a *Authenticator) SignedIn(r *http.Request) bool {
	_, ok := a.sessionOf(r)
	return ok
}

// Require serves next only to a signed-in person, with their Identity in
// the request's context. Others are sent to sign in (GET) or refused.
func (a *Authenticator) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := a.sessionOf(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, LoginPath+"?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
				return
			}
			http.Error(w, "not signed in, or the session ended: sign in again", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), s.Identity)))
	})
}
