package terminal

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/signin"
)

// Options tune the terminals; zero fields take the defaults.
type Options struct {
	// PublicURL is where browsers reach the console (--public-url): the
	// only origin a terminal's websocket is accepted from.
	PublicURL string
	// PingEvery is how often the console pings a browser; a browser that
	// answers no ping for twice as long is gone (default 20s).
	PingEvery time.Duration
	// WriteWait bounds one write to the browser (default 10s).
	WriteWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.PingEvery <= 0 {
		o.PingEvery = 20 * time.Second
	}
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	return o
}

// ConfigFor is the client configuration acting as a person
// (kubeclient.Factory.ConfigFor).
type ConfigFor func(signin.Identity) (*rest.Config, error)

// ClientsFor returns the API clients acting as a person.
type ClientsFor func(signin.Identity) (*kubeclient.Clients, error)

// Handler serves the terminal page, its state and its websocket.
type Handler struct {
	configFor ConfigFor
	clients   ClientsFor
	opts      Options
	origin    string
	upgrader  websocket.Upgrader
	page      *pageRenderer
}

// New returns a Handler whose page renders from files (web.FS).
func New(files fs.FS, configFor ConfigFor, clients ClientsFor, opts Options) (*Handler, error) {
	opts = opts.withDefaults()
	origin, err := originOf(opts.PublicURL)
	if err != nil {
		return nil, err
	}
	page, err := newPageRenderer(files)
	if err != nil {
		return nil, err
	}
	h := &Handler{configFor: configFor, clients: clients, opts: opts, origin: origin, page: page}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   4 << 10,
		WriteBufferSize:  32 << 10,
		Subprotocols:     []string{Protocol},
		CheckOrigin:      h.sameOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	return h, nil
}

// Register adds the terminal's routes to mux, each wrapped by requireUser.
func (h *Handler) Register(mux *http.ServeMux, requireUser func(http.Handler) http.Handler) {
	mux.Handle("GET /requests/{name}/terminal", requireUser(http.HandlerFunc(h.servePage)))
	mux.Handle("GET /requests/{name}/terminal/state", requireUser(http.HandlerFunc(h.serveState)))
	mux.Handle("GET /requests/{name}/terminal/ws", requireUser(http.HandlerFunc(h.serveSocket)))
	mux.Handle("GET /requests/{name}/terminal/logs", requireUser(http.HandlerFunc(h.serveLogs)))
	mux.Handle("GET /requests/{name}/terminal/events", requireUser(http.HandlerFunc(h.serveEvents)))
}

// serveSocket relays one terminal between the browser and the API.
func (h *Handler) serveSocket(w http.ResponseWriter, r *http.Request) {
	id, ok := signin.FromContext(r.Context())
	if !ok {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	// Checked before anything else, so that another site's page learns
	// nothing, not even whether the request exists.
	if !h.sameOrigin(r) {
		klog.InfoS("Refusing a terminal from another origin", "user", id.Username, "origin", r.Header.Get("Origin"))
		http.Error(w, "a terminal opens only from the console's own pages ("+h.origin+")", http.StatusForbidden)
		return
	}
	target, err := targetOf(r.PathValue("name"), r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cfg, err := h.configFor(id)
	if err != nil {
		klog.ErrorS(err, "Building the client configuration", "user", id.Username)
		http.Error(w, "the console cannot act as you: "+err.Error(), http.StatusInternalServerError)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has answered the browser.
		klog.V(2).InfoS("Terminal websocket not opened", "user", id.Username, "err", err)
		return
	}
	defer conn.Close()
	if conn.Subprotocol() != Protocol {
		_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "speak "+Protocol), time.Now().Add(h.opts.WriteWait))
		return
	}
	began := time.Now()
	err = h.relay(r.Context(), conn, cfg, target)
	klog.InfoS("Terminal ended", "user", id.Username, "request", target.Request, "namespace", target.Namespace, "pod", target.Pod,
		"duration", time.Since(began).Round(time.Millisecond), "reason", errText(err))
}

// relay runs the exec stream for the browser on conn and tells it how the
// stream ended.
func (h *Handler) relay(ctx context.Context, conn *websocket.Conn, cfg *rest.Config, target Target) error {
	conn.SetReadLimit(maxMessage)
	b := newBrowser(conn, h.opts.WriteWait)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The browser answers pings with pongs; one that stops answering is
	// gone and its session ends.
	alive := func() { _ = conn.SetReadDeadline(time.Now().Add(2 * h.opts.PingEvery)) }
	alive()
	conn.SetPongHandler(func(string) error { alive(); return nil })
	go h.ping(ctx, conn)

	browserGone := make(chan error, 1)
	go func() {
		err := b.readLoop()
		browserGone <- err
		if err != nil {
			// The browser went away or broke the protocol: end the stream.
			cancel()
		}
	}()

	err := run(ctx, cfg, target, b)
	_ = b.stdin.Close()
	select {
	case gone := <-browserGone:
		if gone != nil && !errors.Is(gone, errProtocol) {
			return errors.Join(errors.New("the browser went away"), gone)
		}
		if gone != nil {
			b.finish(statusOf(gone))
			return gone
		}
	default:
	}
	b.finish(statusOf(err))
	return err
}

func (h *Handler) ping(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(h.opts.PingEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteWait)); err != nil {
				return
			}
		}
	}
}

func errText(err error) string {
	if err == nil {
		return "exited 0"
	}
	return err.Error()
}
