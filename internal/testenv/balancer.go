package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// Balancer is a TCP load balancer on one address, as a Service's
// ClusterIP is in a real cluster: each connection goes to the next
// backend that accepts it. The aggregator dials the ClusterIP itself
// here (routing off), so this is what spreads its requests over several
// janus-apiservers and skips one that is down.
type Balancer struct {
	listener net.Listener

	mu       sync.Mutex
	backends []string
	next     int
	// conns are the open connections, by backend, so that Route cuts
	// those to backends taken out (clients keep connections alive).
	conns map[string]map[net.Conn]struct{}
	// keeping marks the connections opened while it is set as kept:
	// Route leaves kept connections open.
	keeping bool
	kept    map[net.Conn]struct{}
	done    chan struct{}
}

// StartBalancer listens on address and balances over backends.
func StartBalancer(address string, backends ...string) (*Balancer, error) {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s for the balancer: %w", address, err)
	}
	b := &Balancer{listener: l, backends: backends, conns: map[string]map[net.Conn]struct{}{}, kept: map[net.Conn]struct{}{}, done: make(chan struct{})}
	go b.serve()
	return b, nil
}

// Route makes backends the only ones new connections go to, and closes
// the open connections to the others, but for those kept (Keep).
func (b *Balancer) Route(backends ...string) {
	b.route(false, backends...)
}

// Keep has the connections opened from now on, until the function it
// returns is called, survive Route: an exec session's connection, which
// the aggregator dials for that one upgrade, stays on its backend while
// Route sends everything else elsewhere. Close still cuts them.
func (b *Balancer) Keep() (stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.keeping = true
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.keeping = false
	}
}

func (b *Balancer) route(cutKept bool, backends ...string) {
	b.mu.Lock()
	b.backends = append([]string(nil), backends...)
	var cut []net.Conn
	for backend, conns := range b.conns {
		if slices.Contains(backends, backend) {
			continue
		}
		for c := range conns {
			if _, kept := b.kept[c]; kept && !cutKept {
				continue
			}
			cut = append(cut, c)
		}
	}
	b.mu.Unlock()
	for _, c := range cut {
		c.Close()
	}
}

// Close stops accepting and cuts every connection.
func (b *Balancer) Close() {
	close(b.done)
	b.listener.Close()
	b.route(true)
}

func (b *Balancer) serve() {
	for {
		client, err := b.listener.Accept()
		if err != nil {
			select {
			case <-b.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go b.relay(client)
	}
}

// relay tries the backends in turn, from the next one on.
func (b *Balancer) relay(client net.Conn) {
	b.mu.Lock()
	backends := append([]string(nil), b.backends...)
	start := b.next
	b.next++
	b.mu.Unlock()
	for i := range backends {
		backend := backends[(start+i)%len(backends)]
		server, err := net.DialTimeout("tcp", backend, 2*time.Second)
		if err != nil {
			continue
		}
		b.track(backend, client, server, true)
		defer b.track(backend, client, server, false)
		pipe(client, server)
		return
	}
	client.Close()
}

func (b *Balancer) track(backend string, client, server net.Conn, open bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.conns[backend] == nil {
		b.conns[backend] = map[net.Conn]struct{}{}
	}
	if open {
		b.conns[backend][client] = struct{}{}
		b.conns[backend][server] = struct{}{}
		if b.keeping {
			b.kept[client], b.kept[server] = struct{}{}, struct{}{}
		}
		return
	}
	delete(b.conns[backend], client)
	delete(b.conns[backend], server)
	delete(b.kept, client)
	delete(b.kept, server)
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	copyTo := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go copyTo(a, b)
	go copyTo(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}
