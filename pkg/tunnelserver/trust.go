package tunnelserver

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"sync"

	"k8s.io/client-go/tools/cache"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// trustOf fingerprints a Cluster's spec.agent: a tunnel verified under
// one fingerprint must not outlive it.
func trustOf(issuer, jwks, serviceAccount string) string {
	h := sha256.New()
	for _, part := range []string{issuer, jwks, serviceAccount} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// openTunnel is one agent's tunnel as Janus holds it: which trust it was
// verified under, and the connection to close when that trust goes.
type openTunnel struct {
	cluster, trust string

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// hijacked notes the tunnel's connection once the websocket took it over.
func (t *openTunnel) hijacked(c net.Conn) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conn = c
	if t.closed {
		c.Close()
	}
}

func (t *openTunnel) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.conn != nil {
		t.conn.Close()
	}
}

// hijackWriter tells of the connection remotedialer takes over: an
// agent's tunnel, so that it can be closed from outside remotedialer,
// which has no way to end a session of its own; a peer's link, so that
// readiness knows it is up.
type hijackWriter struct {
	http.ResponseWriter
	hijacked func(net.Conn)
}

func (w hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hijacker, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, rw, err := hijacker.Hijack()
	if err == nil {
		w.hijacked(c)
	}
	return c, rw, err
}

// track registers a newly verified tunnel. One tunnel per cluster: the
// newest verified one replaces the ones before it, so that an earlier
// tunnel (a rogue one, or one of a replaced agent) cannot be the one
// streams go through.
func (s *Server) track(t *openTunnel) {
	s.mu.Lock()
	previous := s.open[t.cluster]
	s.open[t.cluster] = []*openTunnel{t}
	s.mu.Unlock()
	for _, p := range previous {
		klog.InfoS("Closing a tunnel replaced by a newer one", "cluster", t.cluster)
		p.close()
	}
}

func (s *Server) untrack(t *openTunnel) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.open[t.cluster][:0]
	for _, o := range s.open[t.cluster] {
		if o != t {
			kept = append(kept, o)
		}
	}
	if len(kept) == 0 {
		delete(s.open, t.cluster)
	} else {
		s.open[t.cluster] = kept
	}
}

// closeUntrusted closes the tunnels of cluster not verified under trust;
// trust "" (the Cluster is gone) closes them all. The agent reconnects and
// is verified against what the Cluster says now.
func (s *Server) closeUntrusted(cluster, trust, why string) {
	s.mu.Lock()
	var stale []*openTunnel
	for _, t := range s.open[cluster] {
		if trust == "" || t.trust != trust {
			stale = append(stale, t)
		}
	}
	var streams []*streamConn
	if len(stale) > 0 {
		// The streams opened through those tunnels go with them.
		for c := range s.streamConns[cluster] {
			streams = append(streams, c)
		}
	}
	s.mu.Unlock()
	for _, t := range stale {
		klog.InfoS("Closing tunnel", "cluster", cluster, "why", why, "streams", len(streams))
		t.close()
	}
	for _, c := range streams {
		c.Close()
	}
}

// ClusterTrustHandler follows Clusters (on every replica) and closes the
// tunnels whose agent trust was changed or deleted.
func (s *Server) ClusterTrustHandler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, obj any) {
			if c, ok := obj.(*v1alpha1.Cluster); ok {
				a := c.Spec.Agent
				s.closeUntrusted(c.Name, trustOf(a.Issuer, a.JWKS, a.ServiceAccount), "the Cluster's spec.agent changed")
			}
		},
		DeleteFunc: func(obj any) {
			if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tombstone.Obj
			}
			if c, ok := obj.(*v1alpha1.Cluster); ok {
				s.closeUntrusted(c.Name, "", "the Cluster was deleted")
			}
		},
	}
}
