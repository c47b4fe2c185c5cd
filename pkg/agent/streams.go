package agent

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/agent/connector"
	"github.com/infroware/janus/pkg/tunnel"
)

// targetReadBuffer is the buffer a stream from the target is read
// through; see leanCopy.
const targetReadBuffer = 4 << 10

// tokenSource hands out the in-memory token of a live grant.
type tokenSource interface {
	Token(request string) (string, bool)
}

// StreamRelay runs exec and log, and reads pods and Events (reads.go), in
// the target cluster as a request's own ServiceAccount, so the target's
// RBAC has the last word, and cuts every stream of a request when its
// grant is removed. What reaches the target is rebuilt from decoded
// options (tunnel.DecodeExecOptions), never the caller's query or headers.
type StreamRelay struct {
	target *url.URL
	tls    *tls.Config
	client *http.Client
	tokens tokenSource

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
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = target.Hostname()
	}
	return &StreamRelay{
		target:   target,
		tls:      tlsConfig,
		client:   &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment}},
		tokens:   tokens,
		sessions: map[string]map[net.Conn]struct{}{},
	}, nil
}

// streamTarget is what a stream path names and the grant it runs under.
type streamTarget struct {
	request, namespace, pod, token string
}

// resolve reads the path and finds the request's token, or answers.
func (s *StreamRelay) resolve(w http.ResponseWriter, r *http.Request) (streamTarget, bool) {
	t := streamTarget{request: r.PathValue("request"), namespace: r.PathValue("namespace"), pod: r.PathValue("pod")}
	if err := checkRequestName(t.request); err != nil {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: err.Error()})
		return t, false
	}
	token, ok := s.tokens.Token(t.request)
	if !ok {
		writeError(w, http.StatusForbidden, tunnel.Error{Message: fmt.Sprintf("request %s has no live grant in this cluster", t.request), Refused: true})
		return t, false
	}
	t.token = token
	return t, true
}

// locate finds the stream's grant and its place at the target. The query
// that goes there is the caller's decoded and encoded again by the shared
// codec (reencode), so only the options survive; it is logged as sent.
func (s *StreamRelay) locate(w http.ResponseWriter, r *http.Request, subresource string, reencode func(url.Values) (url.Values, error)) (streamTarget, *url.URL, bool) {
	t, ok := s.resolve(w, r)
	if !ok {
		return t, nil, false
	}
	query, err := reencode(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: err.Error()})
		return t, nil, false
	}
	u := *s.target
	u.Path = fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/%s", url.PathEscape(t.namespace), url.PathEscape(t.pod), subresource)
	u.RawQuery = query.Encode()
	klog.InfoS("Stream", "request", t.request, "subresource", subresource, "namespace", t.namespace, "pod", t.pod, "query", u.RawQuery)
	return t, &u, true
}

// exec relays a websocket exec: the handshake with the request's token,
// then the bytes both ways, untouched.
func (s *StreamRelay) exec(w http.ResponseWriter, r *http.Request) {
	if !tunnel.IsWebsocketUpgrade(r) {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: "exec streams are websockets"})
		return
	}
	protocols := tunnel.StreamProtocols(r.Header.Values("Sec-Websocket-Protocol"))
	if len(protocols) == 0 {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: "no *.channel.k8s.io websocket protocol offered"})
		return
	}
	t, location, ok := s.locate(w, r, "exec", func(q url.Values) (url.Values, error) {
		opts, err := tunnel.DecodeExecOptions(q)
		if err != nil {
			return nil, err
		}
		return tunnel.EncodeExecOptions(opts)
	})
	if !ok {
		return
	}

	dialer := tls.Dialer{Config: s.httpOneTLS()}
	upstream, err := dialer.DialContext(r.Context(), "tcp", hostPort(s.target))
	if err != nil {
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: "reaching the target cluster: " + err.Error()})
		return
	}
	out, _ := http.NewRequest(http.MethodGet, location.String(), nil)
	out.Header = http.Header{
		"Connection":             {"Upgrade"},
		"Upgrade":                {"websocket"},
		"Sec-Websocket-Key":      {r.Header.Get("Sec-Websocket-Key")},
		"Sec-Websocket-Version":  {"13"},
		"Sec-Websocket-Protocol": {strings.Join(protocols, ", ")},
		"Authorization":          {"Bearer " + t.token},
		"User-Agent":             {"janus-agent"},
	}
	if err := out.Write(upstream); err != nil {
		upstream.Close()
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: "writing to the target cluster: " + err.Error()})
		return
	}
	upstreamR := bufio.NewReaderSize(upstream, targetReadBuffer)
	resp, err := http.ReadResponse(upstreamR, out)
	if err != nil {
		upstream.Close()
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: "reading the target cluster's answer: " + err.Error()})
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// The target's answer (a 403 of its RBAC, a 404) reaches the user.
		defer upstream.Close()
		copyAnswer(w, resp)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	if stream, ok := connector.ConnFrom(r.Context()); ok {
		s.track(t.request, stream)
		defer s.untrack(t.request, stream)
	}
	answer := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + resp.Header.Get("Sec-Websocket-Accept") + "\r\n" +
		"Sec-WebSocket-Protocol: " + resp.Header.Get("Sec-Websocket-Protocol") + "\r\n\r\n"
	if _, err := io.WriteString(conn, answer); err != nil {
		conn.Close()
		upstream.Close()
		return
	}
	splice(conn, rw.Reader, upstream, upstreamR)
}

// log relays pods/log with the decoded options only, flushing as lines come.
func (s *StreamRelay) log(w http.ResponseWriter, r *http.Request) {
	t, location, ok := s.locate(w, r, "log", func(q url.Values) (url.Values, error) {
		opts, err := tunnel.DecodeLogOptions(q)
		if err != nil {
			return nil, err
		}
		return tunnel.EncodeLogOptions(opts)
	})
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	if stream, ok := connector.ConnFrom(r.Context()); ok {
		s.track(t.request, stream)
		defer s.untrack(t.request, stream)
	}
	out, _ := http.NewRequestWithContext(ctx, http.MethodGet, location.String(), nil)
	out.Header.Set("Authorization", "Bearer "+t.token)
	out.Header.Set("User-Agent", "janus-agent")
	resp, err := s.client.Do(out)
	if err != nil {
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: "reaching the target cluster: " + err.Error()})
		return
	}
	copyAnswer(w, resp)
}

// copyAnswer passes an answer of the target on: its status, its content
// type and its body, flushed as it arrives.
func copyAnswer(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	bp := spliceBuffers.Get().(*[]byte)
	defer spliceBuffers.Put(bp)
	for {
		n, err := resp.Body.Read(*bp)
		if n > 0 {
			if _, werr := w.Write((*bp)[:n]); werr != nil {
				return
			}
			_ = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// httpOneTLS is the target's TLS for a connection taken over after one
// HTTP/1.1 exchange.
func (s *StreamRelay) httpOneTLS() *tls.Config {
	c := s.tls.Clone()
	c.NextProtos = []string{"http/1.1"}
	return c
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), "443")
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
