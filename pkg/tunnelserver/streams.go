package tunnelserver

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// pendingStream is a stream connection Janus waits for.
type pendingStream struct {
	cluster string
	conns   chan net.Conn
}

// streamBroker hands stream connections, as agents dial them, to the
// sessions waiting for them.
type streamBroker struct {
	mu      sync.Mutex
	pending map[string]*pendingStream
}

func (b *streamBroker) add(ticket string, p *pendingStream) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]*pendingStream{}
	}
	b.pending[ticket] = p
}

// take removes the ticket: it is used once, whatever happens next.
func (b *streamBroker) take(ticket string) *pendingStream {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending[ticket]
	delete(b.pending, ticket)
	return p
}

func newTicket() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a stream ticket: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// OpenStream asks cluster's agent, through its tunnel, for a connection of
// the stream's own, and returns it once the agent dialled it back. On it
// the caller sends one request of the agent API (exec or log), as to an
// HTTP server. An agent a peer may still be announcing is waited for
// (AwaitAgent).
func (s *Server) OpenStream(ctx context.Context, cluster string) (net.Conn, error) {
	agent, err := s.AwaitAgent(ctx, cluster)
	if err != nil {
		return nil, err
	}
	ticket, err := s.issueTicket()
	if err != nil {
		return nil, err
	}
	p := &pendingStream{cluster: cluster, conns: make(chan net.Conn, 1)}
	s.streams.add(ticket, p)
	defer func() {
		s.streams.take(ticket)
		select {
		case c := <-p.conns: // arrived after the caller gave up
			c.Close()
		default:
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, tunnel.StreamTimeout)
	defer cancel()
	called := make(chan error, 1)
	go func() {
		called <- agent.call(ctx, callOpenStream, http.MethodPost, tunnel.PathStreams, tunnel.StreamRequest{Ticket: ticket}, nil)
	}()
	// The agent answers once it holds the connection; wait for both, so
	// that the call's own connection is not cut short.
	var conn net.Conn
	for answered := false; conn == nil || !answered; {
		select {
		case c := <-p.conns:
			conn = c
		case err := <-called:
			if err != nil {
				if conn != nil {
					conn.Close()
				}
				return nil, fmt.Errorf("asking the agent of cluster %s for a stream: %w", cluster, err)
			}
			answered, called = true, nil
		case <-ctx.Done():
			if conn != nil {
				conn.Close()
			}
			return nil, fmt.Errorf("waiting %s for the agent of cluster %s to open a stream: %w", tunnel.StreamTimeout, cluster, ctx.Err())
		}
	}
	return conn, nil
}

// serveStream takes an agent's stream connection on /connect.
func (s *Server) serveStream(w http.ResponseWriter, req *http.Request) {
	cluster := req.Header.Get(tunnel.HeaderCluster)
	p := s.streams.take(req.Header.Get(tunnel.HeaderStreamTicket))
	if p == nil || p.cluster != cluster {
		refusedConnections.WithLabelValues(string(refusedStreamTicket)).Inc()
		klog.InfoS("Refused stream connection", "cluster", cluster, "reason", refusedStreamTicket, "remote", req.RemoteAddr)
		http.Error(w, "unknown, used or foreign stream ticket", http.StatusUnauthorized)
		return
	}
	if !strings.EqualFold(req.Header.Get("Upgrade"), tunnel.StreamUpgrade) {
		http.Error(w, "a stream connection upgrades to "+tunnel.StreamUpgrade, http.StatusBadRequest)
		return
	}
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "the connection cannot be taken over", http.StatusInternalServerError)
		return
	}
	conn, rw, err := hijacker.Hijack()
	if err != nil {
		klog.ErrorS(err, "Taking over a stream connection", "cluster", cluster)
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + tunnel.StreamUpgrade + "\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	select {
	case p.conns <- s.trackStream(cluster, tunnel.WithBuffered(conn, rw.Reader)):
	default:
		conn.Close()
	}
}

// trackStream notes a stream connection of cluster until it is closed, so
// that the streams go with the trust they were opened under.
func (s *Server) trackStream(cluster string, c net.Conn) net.Conn {
	sc := &streamConn{Conn: c}
	sc.onClose = func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.streamConns[cluster], sc)
		if len(s.streamConns[cluster]) == 0 {
			delete(s.streamConns, cluster)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streamConns[cluster] == nil {
		s.streamConns[cluster] = map[*streamConn]struct{}{}
	}
	s.streamConns[cluster][sc] = struct{}{}
	return sc
}

// streamConn is a stream connection that forgets itself when closed.
type streamConn struct {
	net.Conn
	once    sync.Once
	onClose func()
}

func (c *streamConn) Close() error {
	c.once.Do(c.onClose)
	return c.Conn.Close()
}
