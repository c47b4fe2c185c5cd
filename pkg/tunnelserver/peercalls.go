package tunnelserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// A peer call is one replica asking another for what only that one holds:
// the live sessions it relays (their output to follow, a termination to
// carry out). It is an HTTP request on the other's /connect, over the TLS
// every peer connection is verified with, naming its call in a header so
// that /connect stays the one path the tunnel port serves. Both ends are
// in this package; what the calls mean is the caller's (HandlePeerCalls).
const (
	// headerPeerCall is the call's path and query, as the handler sees it.
	headerPeerCall = "X-Janus-Peer-Call"
	// headerPeerName is the calling replica's name.
	headerPeerName = "X-Janus-Peer"
	// headerPeerToken is the peer token all replicas share.
	headerPeerToken = "X-Janus-Peer-Token"
)

// ErrNotAPeer is returned for a call to a replica this one is not peered
// with now: peering is off, or the replica is not (or no longer) listed.
var ErrNotAPeer = errors.New("not a current peer of this replica")

// HandlePeerCalls makes h the handler of the calls other replicas make on
// this one (CallPeer). h sees a call only once its caller proved itself a
// peer: the peer token, compared in constant time, from a replica this one
// lists; the request's path and query are the call's. Until it is set, or
// without peering, every call is refused.
func (s *Server) HandlePeerCalls(h http.Handler) {
	s.peerCalls.Store(&h)
}

// CallingPeer names the replica that made a peer call, in the handler
// HandlePeerCalls set.
func CallingPeer(req *http.Request) string {
	return req.Header.Get(headerPeerName)
}

// isPeerCall tells a peer call from the other requests on /connect.
func isPeerCall(req *http.Request) bool {
	return req.Header.Get(headerPeerCall) != ""
}

// servePeerCall authenticates a peer call and passes it to the handler.
func (s *Server) servePeerCall(w http.ResponseWriter, req *http.Request) {
	p := s.peering.Load()
	name := req.Header.Get(headerPeerName)
	token := req.Header.Get(headerPeerToken)
	req.Header.Del(headerPeerToken)
	if !admitPeer(w, req, p, name, token, true, "call", http.StatusForbidden, "not a known peer of this replica") {
		return
	}
	h := s.peerCalls.Load()
	call, err := url.ParseRequestURI(req.Header.Get(headerPeerCall))
	if h == nil || err != nil || !strings.HasPrefix(call.Path, "/") {
		http.NotFound(w, req)
		return
	}
	out := req.Clone(req.Context())
	out.URL = call
	out.RequestURI = call.RequestURI()
	out.Header.Del(headerPeerCall)
	klog.V(2).InfoS("Peer call", "peer", name, "method", req.Method, "call", call.Path)
	(*h).ServeHTTP(w, out)
}

// CallPeer calls replica: method on call (a path and query, as the peer's
// HandlePeerCalls handler sees it), with this replica's name and the peer
// token, over TLS verified as every peer connection is, so the token goes
// only to a replica holding a certificate for the peers' ServerName. The
// caller closes the response's body. It returns ErrNotAPeer for a replica
// this one is not peered with now.
func (s *Server) CallPeer(ctx context.Context, replica, method, call string, body io.Reader) (*http.Response, error) {
	p := s.peering.Load()
	if p == nil {
		return nil, ErrNotAPeer
	}
	address, ok := p.address(replica)
	if !ok || replica == p.self {
		return nil, ErrNotAPeer
	}
	target := url.URL{Scheme: "https", Host: address, Path: tunnel.ConnectPath}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, fmt.Errorf("calling peer %s: %w", replica, err)
	}
	req.Header.Set(headerPeerCall, call)
	req.Header.Set(headerPeerName, p.self)
	req.Header.Set(headerPeerToken, string(p.token))
	resp, err := p.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("calling peer %s at %s: %w", replica, address, err)
	}
	return resp, nil
}
