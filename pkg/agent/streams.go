package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"

	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// Query parameters passed on to pods/exec and pods/log; anything else a
// caller adds is dropped.
var (
	execParams = []string{"container", "command", "stdin", "stdout", "stderr", "tty"}
	logParams  = []string{"container", "follow", "previous", "sinceSeconds", "timestamps", "tailLines", "limitBytes"}
	// streamHeaders are the request headers a stream needs; credentials
	// and identities of the caller (Authorization, Impersonate-*,
	// X-Remote-*) never reach the target.
	streamHeaders = []string{"Connection", "Upgrade", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "X-Stream-Protocol-Version", "Accept", "Content-Type", "User-Agent"}
)

// tokenSource hands out the in-memory token of a live grant.
type tokenSource interface {
	Token(request string) (string, bool)
}

// StreamRelay runs exec and log in the target cluster as a request's own
// ServiceAccount, so the target's RBAC has the last word, and cuts every
// stream of a request when its grant is removed.
type StreamRelay struct {
	target    *url.URL
	transport *http.Transport
	tokens    tokenSource

	mu       sync.Mutex
	sessions map[string]map[net.Conn]struct{}
}

// NewStreamRelay relays to the API server of restConfig with TLS only: the
// agent's own credentials are never used for a user's stream.
func NewStreamRelay(restConfig *rest.Config, tokens tokenSource) (*StreamRelay, error) {
	target, err := url.Parse(restConfig.Host)
	if err != nil {
		return nil, fmt.Errorf("parsing the target's address %q: %w", restConfig.Host, err)
	}
	tlsConfig, err := rest.TLSConfigFor(&rest.Config{TLSClientConfig: rest.TLSClientConfig{
		CAFile: restConfig.CAFile, CAData: restConfig.CAData, ServerName: restConfig.ServerName, Insecure: restConfig.Insecure,
	}})
	if err != nil {
		return nil, fmt.Errorf("building TLS for the target: %w", err)
	}
	return &StreamRelay{
		target:    target,
		transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment},
		tokens:    tokens,
		sessions:  map[string]map[net.Conn]struct{}{},
	}, nil
}

func (s *StreamRelay) exec(w http.ResponseWriter, r *http.Request) {
	s.relay(w, r, "exec", execParams, true)
}

func (s *StreamRelay) log(w http.ResponseWriter, r *http.Request) {
	s.relay(w, r, "log", logParams, false)
}

func (s *StreamRelay) relay(w http.ResponseWriter, r *http.Request, subresource string, params []string, upgrade bool) {
	request, namespace, pod := r.PathValue("request"), r.PathValue("namespace"), r.PathValue("pod")
	if err := checkRequestName(request); err != nil {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: err.Error()})
		return
	}
	token, ok := s.tokens.Token(request)
	if !ok {
		writeError(w, http.StatusForbidden, tunnel.Error{Message: fmt.Sprintf("request %s has no live grant in this cluster", request), Refused: true})
		return
	}
	query := url.Values{}
	for _, p := range params {
		if v, ok := r.URL.Query()[p]; ok {
			query[p] = v
		}
	}
	location := *s.target
	location.Path = fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/%s", url.PathEscape(namespace), url.PathEscape(pod), subresource)
	location.RawQuery = query.Encode()

	out := r.Clone(r.Context())
	out.Header = http.Header{}
	for _, h := range streamHeaders {
		if v := r.Header.Values(h); len(v) > 0 {
			out.Header[http.CanonicalHeaderKey(h)] = v
		}
	}
	out.Header.Set("Authorization", "Bearer "+token)

	if conn, ok := tunnel.ConnFrom(r.Context()); ok {
		s.track(request, conn)
		defer s.untrack(request, conn)
	}
	klog.InfoS("Stream", "request", request, "subresource", subresource, "namespace", namespace, "pod", pod)
	handler := proxy.NewUpgradeAwareHandler(&location, s.transport, false, upgrade, streamErrorResponder{})
	handler.UseLocationHost = true
	handler.ServeHTTP(w, out)
}

func (s *StreamRelay) track(request string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions[request] == nil {
		s.sessions[request] = map[net.Conn]struct{}{}
	}
	s.sessions[request][c] = struct{}{}
}

func (s *StreamRelay) untrack(request string, c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions[request], c)
	if len(s.sessions[request]) == 0 {
		delete(s.sessions, request)
	}
}

// Cut ends every open stream of request.
func (s *StreamRelay) Cut(request string) int {
	s.mu.Lock()
	conns := s.sessions[request]
	delete(s.sessions, request)
	s.mu.Unlock()
	for c := range conns {
		_ = c.Close()
	}
	if len(conns) > 0 {
		klog.InfoS("Cut streams", "request", request, "streams", len(conns))
	}
	return len(conns)
}

type streamErrorResponder struct{}

func (streamErrorResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, http.StatusBadGateway, tunnel.Error{Message: "relaying to the target cluster: " + err.Error()})
}

// grantsCuttingStreams removes grants like the provisioner and also ends
// their open streams at once: access ends when the grant does.
type grantsCuttingStreams struct {
	*Provisioner
	streams *StreamRelay
}

func (g grantsCuttingStreams) Remove(ctx context.Context, request string) error {
	g.streams.Cut(request)
	err := g.Provisioner.Remove(ctx, request)
	// A stream that opened while the token was still held ends too.
	g.streams.Cut(request)
	return err
}

func (g grantsCuttingStreams) Reconcile(ctx context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	result, err := g.Provisioner.Reconcile(ctx, req)
	for _, request := range result.Removed {
		g.streams.Cut(request)
	}
	return result, err
}
