package live

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/signin"
)

// ClientsFor returns the API clients acting as a person.
type ClientsFor func(signin.Identity) (*kubeclient.Clients, error)

// Options tune the streams; zero fields take the defaults.
type Options struct {
	// Tick is how often a page is told to re-render although nothing
	// changed, so "in 12m" stays true (default 30s).
	Tick time.Duration
	// Heartbeat is how often an idle stream sends a comment (default 15s).
	Heartbeat time.Duration
	// Lifetime is how long a stream lasts before the browser reconnects,
	// passing sign-in and RBAC again (default 5m).
	Lifetime time.Duration
	// PerUser is how many streams one person may hold at once (default 8).
	PerUser int
	// RetryAfterEnd is how long a browser waits to reconnect (default 2s).
	RetryAfterEnd time.Duration
	// SignedIn, when set, is asked every second whether the stream's
	// request still carries a valid session, so a sign-out (on any
	// replica) ends the streams of that session at once.
	SignedIn func(*http.Request) bool
}

// errSignedOut ends a stream whose session was signed out.
var errSignedOut = errors.New("signed out")

func (o Options) withDefaults() Options {
	if o.Tick <= 0 {
		o.Tick = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Lifetime <= 0 {
		o.Lifetime = 5 * time.Minute
	}
	if o.PerUser <= 0 {
		o.PerUser = 8
	}
	if o.RetryAfterEnd <= 0 {
		o.RetryAfterEnd = 2 * time.Second
	}
	return o
}

// Handler serves the streams.
type Handler struct {
	clients ClientsFor
	opts    Options
	limit   *limiter
	// closing ends every stream when the server shuts down.
	closing      context.Context
	closeStreams context.CancelFunc
}

// New returns a Handler watching through clients.
func New(clients ClientsFor, opts Options) *Handler {
	opts = opts.withDefaults()
	closing, closeStreams := context.WithCancel(context.Background())
	return &Handler{clients: clients, opts: opts, limit: newLimiter(opts.PerUser), closing: closing, closeStreams: closeStreams}
}

// Shutdown ends every open stream, and refuses new ones, so a graceful
// shutdown need not wait for them; the browsers reconnect (to another
// replica) and resume from their Last-Event-ID. For http.Server's
// RegisterOnShutdown.
func (h *Handler) Shutdown() { h.closeStreams() }

// Register adds GET /live to mux, wrapped by requireUser.
func (h *Handler) Register(mux *http.ServeMux, requireUser func(http.Handler) http.Handler) {
	mux.Handle("GET "+Path, requireUser(h))
}

// ServeHTTP streams the changes of one scope to the signed-in person.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := signin.FromContext(r.Context())
	if !ok {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	scope, rv, err := parseRequest(r.URL.Query(), r.Header.Get("Last-Event-ID"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if h.closing.Err() != nil {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "the console is shutting down", http.StatusServiceUnavailable)
		return
	}
	release, ok := h.limit.acquire(id.Username)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.opts.Lifetime.Seconds())))
		http.Error(w, "too many live pages open: close some tabs of the console", http.StatusTooManyRequests)
		return
	}
	defer release()
	c, err := h.clients(id)
	if err != nil {
		klog.ErrorS(err, "Building clients", "user", id.Username)
		http.Error(w, "the console cannot reach the API", http.StatusInternalServerError)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	out := newSender(w)
	if err := out.retry(int(h.opts.RetryAfterEnd.Milliseconds())); err != nil {
		return
	}
	lifetimeCtx, cancelLifetime := context.WithTimeout(r.Context(), h.opts.Lifetime)
	defer cancelLifetime()
	ctx, cancel := context.WithCancelCause(lifetimeCtx)
	defer cancel(nil)
	defer context.AfterFunc(h.closing, func() { cancel(nil) })()
	if h.opts.SignedIn != nil {
		go h.endOnSignOut(ctx, r, cancel)
	}
	f := &follower{
		requests: c.Janus.JanusV1alpha1().AccessRequests(),
		list:     scope.listOptions(id.Username),
		out:      out,
		opts:     h.opts,
	}
	err = f.run(ctx, rv)
	if errors.Is(context.Cause(ctx), errSignedOut) {
		_ = out.event(eventEnded, "", "You signed out: this page no longer updates; sign in again and reload it to see changes.")
	}
	klog.V(4).InfoS("Live stream ended", "user", id.Username, "scope", scope.kind, "name", scope.name, "reason", err)
}

// endOnSignOut cancels ctx with errSignedOut once r's session is no longer
// valid.
func (h *Handler) endOnSignOut(ctx context.Context, r *http.Request, cancel context.CancelCauseFunc) {
	check := time.NewTicker(time.Second)
	defer check.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-check.C:
			if !h.opts.SignedIn(r) {
				cancel(errSignedOut)
				return
			}
		}
	}
}
