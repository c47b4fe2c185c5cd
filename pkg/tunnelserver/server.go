package tunnelserver

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// ConnectionListener hears about agents coming and going.
type ConnectionListener interface {
	// AgentConnected is called once the cluster's tunnel can carry calls.
	AgentConnected(cluster string)
	// AgentDisconnected is called when the cluster's last tunnel closed.
	AgentDisconnected(cluster string)
}

// ErrNotConnected is returned for calls to a cluster whose agent has no
// open tunnel.
var ErrNotConnected = errors.New("the cluster's agent is not connected")

// Server accepts agents on /connect and lets Janus call them.
type Server struct {
	identity *IdentityVerifier
	dialer   *remotedialer.Server
	streams  streamBroker
	// peering, once enabled, reaches the tunnels other replicas hold.
	peering atomic.Pointer[peering]
	// peerCalls serves the calls peers make on this replica.
	peerCalls atomic.Pointer[http.Handler]

	// handshakes bounds the agent handshakes verified at once.
	handshakes chan struct{}

	mu   sync.Mutex
	open map[string][]*openTunnel
	// streamConns are the open stream connections, by cluster.
	streamConns map[string]map[*streamConn]struct{}
	tunnels     map[string]int
	clients     map[string]*AgentClient
	listeners   []ConnectionListener
	// unregistered are the clusters whose Cluster went while a tunnel of
	// theirs was open: their metric series goes with the last tunnel.
	unregistered map[string]bool
	// reachable are the clusters the listeners were told are connected,
	// through a tunnel here or a peer's.
	reachable map[string]bool
}

type clusterKey struct{}

// DefaultMaxTokenLifetime is the longest agent token accepted by default:
// what the shipped agent Deployment projects (expirationSeconds 3600).
const DefaultMaxTokenLifetime = time.Hour

// NewServer returns a tunnel server that verifies agents against Clusters
// and accepts their tokens only if they live at most maxTokenLifetime.
func NewServer(clusters ClusterGetter, maxTokenLifetime time.Duration) *Server {
	s := &Server{
		identity:     NewIdentityVerifier(clusters, maxTokenLifetime),
		handshakes:   make(chan struct{}, maxConcurrentHandshakes),
		open:         map[string][]*openTunnel{},
		streamConns:  map[string]map[*streamConn]struct{}{},
		tunnels:      map[string]int{},
		clients:      map[string]*AgentClient{},
		unregistered: map[string]bool{},
		reachable:    map[string]bool{},
	}
	// Identity is verified before remotedialer sees the request; its
	// authorizer only reads the verified cluster name back.
	s.dialer = remotedialer.New(func(req *http.Request) (string, bool, error) {
		cluster, ok := req.Context().Value(clusterKey{}).(string)
		return cluster, ok, nil
	}, remotedialer.DefaultErrorWriter)
	return s
}

// AddListener registers l for connection changes.
func (s *Server) AddListener(l ConnectionListener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listeners = append(s.listeners, l)
}

// ServeHTTP serves /connect: verify, then hold the tunnel open until the
// agent goes away.
func (s *Server) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Header.Get(tunnel.HeaderStreamTicket) != "" {
		if !s.relayStream(w, req) {
			s.serveStream(w, req)
		}
		return
	}
	if isPeerCall(req) {
		s.servePeerCall(w, req)
		return
	}
	if isPeerHandshake(req) {
		s.servePeer(w, req)
		return
	}
	select {
	case s.handshakes <- struct{}{}:
	default:
		refusedConnections.WithLabelValues(string(refusedBusy)).Inc()
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many agent handshakes at once; retry in a second", http.StatusTooManyRequests)
		return
	}
	cluster := req.Header.Get(tunnel.HeaderCluster)
	token := req.Header.Get(tunnel.HeaderAgentToken)
	req.Header.Del(tunnel.HeaderAgentToken)
	ctx, cancel := context.WithTimeout(req.Context(), agentHandshakeTimeout)
	proof, err := s.identity.Verify(ctx, cluster, token)
	cancel()
	<-s.handshakes
	if err != nil {
		var refused *RefusedError
		if errors.As(err, &refused) {
			refusedConnections.WithLabelValues(string(refused.Reason)).Inc()
			klog.InfoS("Refused agent", "cluster", cluster, "reason", refused.Reason, "remote", req.RemoteAddr, "err", refused.Err)
			code := http.StatusUnauthorized
			if refused.Reason == refusedMalformed {
				code = http.StatusBadRequest
			}
			http.Error(w, "agent identity refused: "+string(refused.Reason), code)
			return
		}
		klog.ErrorS(err, "Verifying agent", "cluster", cluster)
		http.Error(w, "cannot verify the agent now", http.StatusServiceUnavailable)
		return
	}

	t := &openTunnel{cluster: cluster, trust: proof.trust}
	s.track(t)
	defer s.untrack(t)
	// A tunnel lives no longer than the token it was opened with; the
	// agent reconnects with a fresh one before then.
	expiry := time.AfterFunc(time.Until(proof.expires), func() {
		klog.InfoS("Closing a tunnel whose token expired", "cluster", cluster)
		t.close()
	})
	defer expiry.Stop()
	s.opened(cluster)
	defer s.closed(cluster)
	klog.InfoS("Agent connected", "cluster", cluster, "remote", req.RemoteAddr)
	s.dialer.ServeHTTP(hijackWriter{ResponseWriter: w, hijacked: t.hijacked}, req.WithContext(context.WithValue(req.Context(), clusterKey{}, cluster)))
	klog.InfoS("Agent disconnected", "cluster", cluster, "remote", req.RemoteAddr)
}

// maxConcurrentHandshakes bounds the agents verified at once: each may
// read storage and fetch an issuer's keys. A fleet reconnecting after a
// restart retries those turned away within a second.
const maxConcurrentHandshakes = 64

// agentHandshakeTimeout bounds an agent's verification.
const agentHandshakeTimeout = 15 * time.Second

func (s *Server) opened(cluster string) {
	s.mu.Lock()
	s.tunnels[cluster]++
	first := s.tunnels[cluster] == 1
	connectedAgents.WithLabelValues(cluster).Inc()
	listeners := append([]ConnectionListener(nil), s.listeners...)
	s.mu.Unlock()
	if !first {
		return
	}
	// remotedialer registers the session inside ServeHTTP; tell listeners
	// once calls can flow through it, even if a peer's tunnel of the
	// cluster was reached before: a new tunnel is a new reconciliation.
	go func() {
		err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return s.hasLocalSession(cluster), nil
		})
		if err != nil {
			return
		}
		s.mu.Lock()
		s.reachable[cluster] = true
		s.mu.Unlock()
		for _, l := range listeners {
			l.AgentConnected(cluster)
		}
	}()
}

func (s *Server) closed(cluster string) {
	s.mu.Lock()
	s.tunnels[cluster]--
	last := s.tunnels[cluster] == 0
	connectedAgents.WithLabelValues(cluster).Dec()
	if last {
		delete(s.tunnels, cluster)
		delete(s.clients, cluster)
		if s.unregistered[cluster] {
			delete(s.unregistered, cluster)
			connectedAgents.DeleteLabelValues(cluster)
		}
	}
	listeners := append([]ConnectionListener(nil), s.listeners...)
	s.mu.Unlock()
	if last && s.dialer.HasSession(cluster) {
		// The agent is reached through a peer now: it moved, which the
		// listeners reconcile as a new connection.
		for _, l := range listeners {
			l.AgentConnected(cluster)
		}
		return
	}
	if last {
		s.mu.Lock()
		delete(s.reachable, cluster)
		s.mu.Unlock()
		for _, l := range listeners {
			l.AgentDisconnected(cluster)
		}
	}
}

// Connected reports whether cluster's agent has an open tunnel.
func (s *Server) Connected(cluster string) bool {
	return s.dialer.HasSession(cluster)
}

// Agent returns a client for cluster's agent, or ErrNotConnected.
func (s *Server) Agent(cluster string) (*AgentClient, error) {
	if !s.dialer.HasSession(cluster) {
		return nil, ErrNotConnected
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[cluster]; ok {
		return c, nil
	}
	dial := s.dialer.Dialer(cluster)
	c := newAgentClient(cluster, func(ctx context.Context) (net.Conn, error) {
		conn, err := dial(ctx, "tcp", tunnel.AgentAddress)
		if err != nil {
			return nil, err
		}
		return newTunnelConn(conn), nil
	})
	s.clients[cluster] = c
	return c, nil
}
