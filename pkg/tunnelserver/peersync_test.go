package tunnelserver

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// fakeClock is a time.Now that moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestPeerSyncWaitsForEveryListedPeerOrItsGrace(t *testing.T) {
	type step struct {
		after   time.Duration // the clock moves this much first
		list    []string      // then, if not nil, the peers are set to it
		link    string        // then, if set, this peer's link is accepted
		waiting string        // the check's error names these peers; "" wants it to pass
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"the list is waited for, within the grace", []step{
			{waiting: "not listed yet"},
			{after: peerSyncGrace - time.Millisecond, waiting: "not listed yet"},
			{after: time.Millisecond},
		}},
		{"no peers listed", []step{{list: []string{}}}},
		{"every peer must link", []step{
			{list: []string{"b", "c"}, waiting: "peer b, c"},
			{link: "c", waiting: "peer b "},
			{link: "b"},
		}},
		{"a dead peer is waited for the grace only", []step{
			{list: []string{"b", "c"}, link: "c", waiting: "peer b "},
			{after: peerSyncGrace - time.Millisecond, waiting: "peer b "},
			{after: time.Millisecond},
		}},
		{"once synced, a peer listed later does not make it unready", []step{
			{list: []string{"b"}, link: "b"},
			{after: 10 * time.Second, list: []string{"b", "c"}, waiting: "skipped: synced stays"},
		}},
		{"a peer listed later, before synced, is waited for from then", []step{
			{list: []string{"b"}, waiting: "peer b "},
			{after: 10 * time.Second, list: []string{"b", "c"}, link: "b", waiting: "peer c "},
			{after: peerSyncGrace - time.Millisecond, waiting: "peer c "},
			{after: time.Millisecond},
		}},
		{"a peer no longer listed is not waited for", []step{
			{list: []string{"b", "c"}, link: "b", waiting: "peer c "},
			{list: []string{"b"}},
		}},
		{"a link before the peer is listed does not count", []step{
			{link: "b", list: nil, waiting: "not listed yet"},
			{list: []string{"b"}, waiting: "peer b "},
		}},
		{"a peer that left and came back links anew", []step{
			{list: []string{"b", "c"}, link: "b", waiting: "peer c "},
			{list: []string{"c"}, waiting: "peer c "},
			{list: []string{"b", "c"}, link: "c", waiting: "peer b "},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_000_000, 0)}
			ps := newPeerSync(clock.now)
			for i, s := range tc.steps {
				clock.step(s.after)
				if s.list != nil {
					ps.setPeers(s.list)
				}
				if s.link != "" {
					ps.linkAccepted(s.link)
				}
				err := ps.check()
				switch {
				case s.waiting == "skipped: synced stays":
					if err != nil {
						t.Errorf("step %d: once synced the check fails again: %v", i, err)
					}
				case s.waiting == "":
					if err != nil {
						t.Errorf("step %d: check failed: %v; want it to pass", i, err)
					}
				case err == nil:
					t.Errorf("step %d: check passed; want it waiting for %q", i, s.waiting)
				case !strings.Contains(err.Error()+" ", s.waiting):
					t.Errorf("step %d: check says %q; want it waiting for %q", i, err, s.waiting)
				}
			}
		})
	}
}

func TestPeerLinksSettleForAWhileAfterEachLink(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_000_000, 0)}
	ps := newPeerSync(clock.now)
	ps.setPeers([]string{"b"})
	if !ps.settling() {
		t.Error("not synced yet, but not settling")
	}
	ps.linkAccepted("b")
	if err := ps.check(); err != nil {
		t.Fatal(err)
	}
	if !ps.settling() {
		t.Error("a link just accepted is not settling")
	}
	clock.step(peerLinkSettle)
	if ps.settling() {
		t.Errorf("a link accepted %s ago is still settling", peerLinkSettle)
	}
	ps.linkAccepted("b") // the peer redialled
	if !ps.settling() {
		t.Error("a link accepted again is not settling")
	}

	// A dead peer's grace ends lookups' waits too, readiness probed or not.
	dead := newPeerSync(clock.now)
	dead.setPeers([]string{"c"})
	clock.step(peerSyncGrace)
	if dead.settling() {
		t.Errorf("a peer that did not link within %s still makes lookups wait", peerSyncGrace)
	}
}

func TestPeersSyncedCheckPassesWithoutPeering(t *testing.T) {
	s := NewServer(&fakeClusters{}, time.Hour)
	check := s.PeersSynced()
	if check.Name() != "peers" {
		t.Errorf("check named %q, want peers", check.Name())
	}
	if err := check.Check(nil); err != nil {
		t.Errorf("without peering: %v, want it to pass", err)
	}
}

// TestARestartedReplicaIsReadyOnceItsPeerLinked: replica a comes back at
// a new address while the agent of dev is on b. a is not ready until b's
// link reaches it, and once it is, an exec stream for dev opens through b
// on the first try.
func TestARestartedReplicaIsReadyOnceItsPeerLinked(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	a, b, hsA, hsB := peeredPair(t, clusters, "0123456789abcdef0123456789abcdef")
	api := http.NewServeMux()
	api.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "streamed via b") })
	connectAgent(t, b, hsB, clusters, iss, api)
	waitCheck(t, a, "replica a")

	// a "restarts": a new server, listed by b only once it runs, as the
	// peer Service's EndpointSlice would.
	a.SetPeers(nil)
	hsA.Close()
	restarted := NewServer(clusters, time.Hour)
	hsRestarted := httptest.NewTLSServer(restarted)
	t.Cleanup(hsRestarted.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool := x509.NewCertPool()
	pool.AddCert(hsB.Certificate())
	if err := restarted.EnablePeering(ctx, PeerConfig{ReplicaName: "a", Token: []byte("0123456789abcdef0123456789abcdef"), RootCAs: pool, ServerName: "example.com"}); err != nil {
		t.Fatal(err)
	}
	peers := []Peer{{Name: "a", Address: hsRestarted.Listener.Addr().String()}, {Name: "b", Address: hsB.Listener.Addr().String()}}
	restarted.SetPeers(peers)
	if err := restarted.PeersSynced().Check(nil); err == nil || !strings.Contains(err.Error(), "peer b") {
		t.Fatalf("the restarted replica before b links to it: check %v, want it waiting for b", err)
	}
	b.SetPeers(peers)
	waitCheck(t, restarted, "the restarted replica")

	// The first try, as soon as it is ready.
	if body := streamGet(t, restarted); body != "streamed via b" {
		t.Errorf("the stream answered %q", body)
	}
}

// TestOpenStreamWaitsForAnAgentOnlyWhilePeerLinksSettle: an agent not
// known is waited for while a peer's link is new, and refused at once
// otherwise. (One found during the wait: the restart test above.)
func TestOpenStreamWaitsForAnAgentOnlyWhilePeerLinksSettle(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	s := NewServer(clusters, time.Hour)
	if err := s.EnablePeering(t.Context(), PeerConfig{ReplicaName: "a", Token: []byte("token")}); err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now()}
	links := newPeerSync(clock.now)
	s.peering.Load().links = links
	links.setPeers([]string{"b"})
	links.linkAccepted("b")
	if err := links.check(); err != nil {
		t.Fatal(err)
	}

	begin := time.Now()
	if _, err := s.OpenStream(t.Context(), "prod"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("OpenStream of an agent that never comes: %v, want ErrNotConnected", err)
	}
	if waited := time.Since(begin); waited < agentLookupWait {
		t.Errorf("with a link settling, an unknown agent was refused after %s; want a wait of %s", waited, agentLookupWait)
	}

	clock.step(peerLinkSettle)
	begin = time.Now()
	if _, err := s.OpenStream(t.Context(), "prod"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("OpenStream of an agent not connected: %v, want ErrNotConnected", err)
	}
	if waited := time.Since(begin); waited >= agentLookupWait {
		t.Errorf("with the links settled, an unknown agent was refused after %s; want at once", waited)
	}
	begin = time.Now()
	if _, err := s.AwaitAgent(t.Context(), "prod"); !errors.Is(err, ErrNotConnected) || time.Since(begin) >= agentLookupWait {
		t.Errorf("AwaitAgent of an agent not connected, links settled: %v after %s; want ErrNotConnected at once", err, time.Since(begin))
	}

}

func waitCheck(t *testing.T, s *Server, who string) {
	t.Helper()
	var last error
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = s.PeersSynced().Check(nil)
		return last == nil, nil
	}); err != nil {
		t.Fatalf("%s never peer-synced: %v", who, last)
	}
}

// TestAShuttingDownPeerIsNotWaitedFor: in a rolling update the replica
// starting beside a terminating one is ready without that one's link,
// and waits for a peer that is not shutting down.
func TestAShuttingDownPeerIsNotWaitedFor(t *testing.T) {
	for _, shuttingDown := range []bool{true, false} {
		s := NewServer(&fakeClusters{}, time.Hour)
		hs := httptest.NewTLSServer(s)
		t.Cleanup(hs.Close)
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		pool := x509.NewCertPool()
		pool.AddCert(hs.Certificate())
		if err := s.EnablePeering(ctx, PeerConfig{ReplicaName: "new", Token: []byte("0123456789abcdef0123456789abcdef"), RootCAs: pool, ServerName: "example.com"}); err != nil {
			t.Fatal(err)
		}
		// The old replica's address refuses: it never links.
		s.SetPeers([]Peer{{Name: "new", Address: hs.Listener.Addr().String()}, {Name: "old", Address: "127.0.0.1:1", ShuttingDown: shuttingDown}})
		err := s.PeersSynced().Check(nil)
		switch {
		case shuttingDown && err != nil:
			t.Errorf("beside a peer shutting down: check %v, want it to pass", err)
		case !shuttingDown && (err == nil || !strings.Contains(err.Error(), "peer old")):
			t.Errorf("beside a peer that is not shutting down: check %v, want it waiting for old", err)
		}
	}
}
