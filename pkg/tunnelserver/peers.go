package tunnelserver

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// PeerConfig turns on peering between the replicas of janus-apiserver.
type PeerConfig struct {
	// ReplicaName is this replica's name among its peers (--replica-name).
	ReplicaName string
	// Token is the secret all replicas share; a peer proves itself with
	// it on every peer connection.
	Token []byte
	// RootCAs and ServerName verify a peer's serving certificate before
	// the token is sent to it.
	RootCAs    *x509.CertPool
	ServerName string
	// CABundle, when set, replaces RootCAs: each handshake verifies the
	// peer against the PEM bundle it returns then, so that CAs which
	// rotate while the replica runs (a self-managed certificate's) are
	// followed.
	CABundle func() []byte
}

// Peer is another replica: its name and the host:port serving its
// /connect.
type Peer struct {
	Name    string
	Address string
	// ShuttingDown is a peer on its way out (its endpoint terminating, in
	// a rolling update): still dialed, for the tunnels it holds until it
	// stops, but not waited for by a starting replica's readiness, since
	// it may never link to a replica that came after it.
	ShuttingDown bool
}

// peerIDPrefix keeps peer IDs apart from cluster names, which share
// remotedialer's key space: a Cluster name never holds a colon.
const peerIDPrefix = "peer:"

// refusedPeer counts peer connections without the peer token, or from a
// replica not listed as a peer.
const refusedPeer refusal = "peer"

// peering is the state of an enabled peering.
type peering struct {
	self  string
	token []byte
	// transport reaches peers over TLS verified with the PeerConfig.
	transport *http.Transport
	// relayURL is the loopback relay remotedialer dials its peers through.
	relayURL string

	// links follows the peers' links to this replica, for readiness.
	links *peerSync

	mu    sync.Mutex
	peers map[string]string // name → address
}

func (p *peering) address(name string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	a, ok := p.peers[name]
	return a, ok
}

// EnablePeering lets the replicas reach each other's tunnels: Agent and
// OpenStream work for a cluster whose agent is connected to any peer.
// Peers are set with SetPeers. The relay it starts runs until ctx ends.
func (s *Server) EnablePeering(ctx context.Context, cfg PeerConfig) error {
	if cfg.ReplicaName == "" || len(cfg.Token) == 0 {
		return errors.New("peering needs a replica name and a peer token")
	}
	tlsConfig := &tls.Config{RootCAs: cfg.RootCAs, ServerName: cfg.ServerName, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	if cfg.CABundle != nil {
		// crypto/tls's own check takes fixed roots; VerifyConnection does
		// the same check with the roots of the moment.
		tlsConfig.RootCAs = nil
		tlsConfig.InsecureSkipVerify = true
		tlsConfig.VerifyConnection = verifyPeerWith(cfg.CABundle, cfg.ServerName)
	}
	p := &peering{
		self:  cfg.ReplicaName,
		token: cfg.Token,
		transport: &http.Transport{
			TLSClientConfig:     tlsConfig,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 10 * time.Second,
			IdleConnTimeout:     90 * time.Second,
		},
		links: newPeerSync(time.Now),
		peers: map[string]string{},
	}
	// remotedialer dials its peers with certificate checks turned off and
	// no way to turn them on; it dials this loopback relay instead, which
	// reaches the peer over verified TLS, so the token goes only to a
	// replica holding a certificate for ServerName.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening for the peer relay: %w", err)
	}
	p.relayURL = "ws://" + l.Addr().String()
	relay := &http.Server{Handler: http.HandlerFunc(p.serveRelay), ReadHeaderTimeout: 10 * time.Second, ErrorLog: klog.NewStandardLogger("INFO")}
	go func() {
		<-ctx.Done()
		relay.Close()
		s.SetPeers(nil)
	}()
	go func() {
		if err := relay.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Peer relay stopped")
		}
	}()
	s.dialer.PeerID = peerIDPrefix + cfg.ReplicaName
	s.dialer.PeerToken = string(cfg.Token)
	s.peering.Store(p)
	klog.InfoS("Peering with the other replicas", "replica", cfg.ReplicaName, "serverName", cfg.ServerName)
	return nil
}

// SetPeers makes peers the replicas this one is peered with; this replica
// among them is left out.
func (s *Server) SetPeers(peers []Peer) {
	p := s.peering.Load()
	if p == nil {
		return
	}
	next := map[string]string{}
	var awaited []string
	for _, peer := range peers {
		if peer.Name != "" && peer.Name != p.self && peer.Address != "" {
			next[peer.Name] = peer.Address
			if !peer.ShuttingDown {
				awaited = append(awaited, peer.Name)
			}
		}
	}
	p.mu.Lock()
	previous := p.peers
	p.peers = next
	p.mu.Unlock()
	p.links.setPeers(awaited)
	for name := range previous {
		if _, ok := next[name]; !ok {
			klog.InfoS("Peer left", "peer", name)
			s.dialer.RemovePeer(peerIDPrefix + name)
		}
	}
	for name, address := range next {
		// The address is in the URL so that a peer that moved is dialled
		// anew: remotedialer keeps a peer whose URL, ID and token match.
		u := p.relayURL + "/peers/" + url.PathEscape(name) + "?" + url.Values{"address": {address}}.Encode()
		s.dialer.AddPeer(u, peerIDPrefix+name, string(p.token))
	}
}

// Peers lists the replicas this one is peered with, by name.
func (s *Server) Peers() []Peer {
	p := s.peering.Load()
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Peer, 0, len(p.peers))
	for name, address := range p.peers {
		out = append(out, Peer{Name: name, Address: address})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// isPeerHandshake tells a peer's connection from an agent's.
func isPeerHandshake(req *http.Request) bool {
	return req.Header.Get(remotedialer.ID) != "" || req.Header.Get(remotedialer.Token) != ""
}

// servePeer accepts another replica's peer connection: a listed peer with
// the peer token, compared in constant time before remotedialer (which
// compares it again, not in constant time) sees it.
// admitPeer lets a peer's connection or call (what) through when peering
// is on, the caller claims to be a peer (claimed), its token is the peer
// token (compared in constant time) and name is a listed peer. Otherwise
// it counts and logs the refusal and answers 401 for the token, or
// unlisted with unlistedMsg for a replica that is not listed.
func admitPeer(w http.ResponseWriter, req *http.Request, p *peering, name, token string, claimed bool, what string, unlisted int, unlistedMsg string) bool {
	if p == nil || !claimed || subtle.ConstantTimeCompare([]byte(token), p.token) != 1 {
		refusedConnections.WithLabelValues(string(refusedPeer)).Inc()
		klog.InfoS("Refused peer "+what, "peer", name, "remote", req.RemoteAddr, "reason", "no peering here or a wrong peer token")
		http.Error(w, "peer refused", http.StatusUnauthorized)
		return false
	}
	if _, known := p.address(name); !known {
		refusedConnections.WithLabelValues(string(refusedPeer)).Inc()
		klog.InfoS("Refused peer "+what, "peer", name, "remote", req.RemoteAddr, "reason", "not among this replica's peers")
		http.Error(w, unlistedMsg, unlisted)
		return false
	}
	return true
}

func (s *Server) servePeer(w http.ResponseWriter, req *http.Request) {
	p := s.peering.Load()
	id := req.Header.Get(remotedialer.ID)
	name, isPeerID := strings.CutPrefix(id, peerIDPrefix)
	token := req.Header.Get(remotedialer.Token)
	req.Header.Del(remotedialer.Token)
	if !admitPeer(w, req, p, name, token, isPeerID, "connection", http.StatusServiceUnavailable, "not a known peer of this replica; retry once it is") {
		return
	}
	req.Header.Set(remotedialer.Token, token)
	klog.InfoS("Peer connected", "peer", name, "remote", req.RemoteAddr)
	s.dialer.ServeHTTP(hijackWriter{ResponseWriter: w, hijacked: func(net.Conn) { p.links.linkAccepted(name) }}, req)
	klog.InfoS("Peer disconnected", "peer", name, "remote", req.RemoteAddr)
}

// serveRelay passes remotedialer's peer connection on to the peer named
// in the path, over verified TLS.
func (p *peering) serveRelay(w http.ResponseWriter, req *http.Request) {
	name, ok := strings.CutPrefix(req.URL.Path, "/peers/")
	address, known := p.address(name)
	if !ok || !known || req.URL.Query().Get("address") != address {
		http.Error(w, "not a current peer", http.StatusNotFound)
		return
	}
	p.proxyTo(address).ServeHTTP(w, req)
}

// proxyTo passes requests, upgrades included, to the /connect of the peer
// at address.
func (p *peering) proxyTo(address string) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL = &url.URL{Scheme: "https", Host: address, Path: tunnel.ConnectPath}
			r.Out.Host = ""
		},
		Transport: p.transport,
		ErrorLog:  klog.NewStandardLogger("INFO"),
	}
}

// relayStream passes a stream connection whose ticket another replica
// issued on to that replica: an agent behind a load balancer dials its
// stream back to whichever replica it reaches. It reports whether it took
// the request; tickets of this replica, of no replica or of a replica that
// is not a peer are left to serveStream, which refuses what it did not
// issue.
func (s *Server) relayStream(w http.ResponseWriter, req *http.Request) bool {
	p := s.peering.Load()
	if p == nil {
		return false
	}
	issuer, ok := ticketIssuer(req.Header.Get(tunnel.HeaderStreamTicket))
	if !ok || issuer == p.self {
		return false
	}
	address, known := p.address(issuer)
	if !known {
		return false
	}
	klog.V(2).InfoS("Relaying a stream connection to the replica that asked for it", "cluster", req.Header.Get(tunnel.HeaderCluster), "peer", issuer)
	p.proxyTo(address).ServeHTTP(w, req)
	return true
}

// issuerName is the replica named in the tickets this one issues, or ""
// without peering.
func (s *Server) issuerName() string {
	if p := s.peering.Load(); p != nil {
		return p.self
	}
	return ""
}

// ticketIssuer reads the replica a ticket names: "<replica>.<random>",
// the random part being base64url, which has no dot.
func ticketIssuer(ticket string) (string, bool) {
	i := strings.LastIndexByte(ticket, '.')
	if i <= 0 {
		return "", false
	}
	return ticket[:i], true
}

// issueTicket makes a stream ticket naming this replica, so that a peer
// the agent dials it back to can pass the connection on.
func (s *Server) issueTicket() (string, error) {
	ticket, err := newTicket()
	if err != nil {
		return "", err
	}
	if issuer := s.issuerName(); issuer != "" {
		ticket = issuer + "." + ticket
	}
	return ticket, nil
}

// verifyPeerWith verifies a peer's certificate chain for serverName against
// the CAs bundle returns at the handshake: what crypto/tls does with
// RootCAs, with roots that may change between dials.
func verifyPeerWith(bundle func() []byte, serverName string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the peer presented no certificate")
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(bundle()) {
			return errors.New("no CA to verify the peer with yet")
		}
		intermediates := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: intermediates, DNSName: serverName,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			return fmt.Errorf("verifying the peer's certificate for %s: %w", serverName, err)
		}
		return nil
	}
}
