package tunnelserver

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rancher/remotedialer"
	"k8s.io/apimachinery/pkg/util/wait"
	certutil "k8s.io/client-go/util/cert"

	"github.com/infroware/janus/pkg/tunnel"
)

// peeredPair runs replicas a and b, peered with token, each on a TLS
// server of its own; tweaks change both replicas' PeerConfig.
func peeredPair(t *testing.T, clusters *fakeClusters, token string, tweaks ...func(*PeerConfig)) (a, b *Server, hsA, hsB *httptest.Server) {
	t.Helper()
	a, b = NewServer(clusters, time.Hour), NewServer(clusters, time.Hour)
	hsA, hsB = httptest.NewTLSServer(a), httptest.NewTLSServer(b)
	t.Cleanup(hsA.Close)
	t.Cleanup(hsB.Close)
	// httptest's servers share one certificate, for example.com.
	pool := x509.NewCertPool()
	pool.AddCert(hsA.Certificate())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for name, s := range map[string]*Server{"a": a, "b": b} {
		cfg := PeerConfig{ReplicaName: name, Token: []byte(token), RootCAs: pool, ServerName: "example.com"}
		for _, tweak := range tweaks {
			tweak(&cfg)
		}
		if err := s.EnablePeering(ctx, cfg); err != nil {
			t.Fatalf("enabling peering on %s: %v", name, err)
		}
	}
	peers := []Peer{{Name: "a", Address: hsA.Listener.Addr().String()}, {Name: "b", Address: hsB.Listener.Addr().String()}}
	// Each learns the other's agents on the connection the other dials,
	// which it accepts only from a peer it lists: list first, then dial.
	a.SetPeers(peers)
	b.SetPeers(peers)
	return a, b, hsA, hsB
}

func TestPeersReachAnAgentConnectedToAnotherReplica(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	a, b, _, hsB := peeredPair(t, clusters, "0123456789abcdef0123456789abcdef")
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "on-b"})
	})
	api.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "streamed via b") })
	connectAgent(t, b, hsB, clusters, iss, api)

	if got := a.Peers(); len(got) != 1 || got[0].Name != "b" {
		t.Errorf("a's peers: %+v, want only b", got)
	}
	// The agent's session reaches a over the peer link b dialled.
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return a.Connected("dev"), nil
	}); err != nil {
		t.Fatalf("replica a never saw the agent connected to b: %v", err)
	}
	agent, err := a.Agent("dev")
	if err != nil {
		t.Fatalf("Agent(dev) on a: %v", err)
	}
	info, err := agent.Info(t.Context())
	if err != nil || info.Version != "on-b" {
		t.Fatalf("Info from a through b's tunnel: %+v, %v", info, err)
	}

	// a issues the ticket, the agent dials it back to b, b passes it to a.
	if body := streamGet(t, a); body != "streamed via b" {
		t.Errorf("the relayed stream answered %q", body)
	}
}

func TestPeerHandshakesNeedTheTokenAndAListedPeer(t *testing.T) {
	clusters := &fakeClusters{}
	_, b, _, hsB := peeredPair(t, clusters, "the-right-token-of-32-characters")
	for _, tc := range []struct {
		name, id, token string
		want            int
	}{
		{"wrong token", "peer:a", "the-wrong-token-of-32-characters", http.StatusUnauthorized},
		{"no token", "peer:a", "", http.StatusUnauthorized},
		{"a cluster name as peer", "dev", "the-right-token-of-32-characters", http.StatusUnauthorized},
		{"unlisted replica", "peer:c", "the-right-token-of-32-characters", http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hsB.URL+tunnel.ConnectPath, nil)
			req.Header.Set(remotedialer.ID, tc.id)
			if tc.token != "" {
				req.Header.Set(remotedialer.Token, tc.token)
			}
			resp, err := hsB.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// A stream ticket naming a replica that is no peer is refused like
	// any unknown ticket, not passed anywhere.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, hsB.URL+tunnel.ConnectPath, nil)
	req.Header.Set(tunnel.HeaderStreamTicket, "evil.example.com.abc")
	req.Header.Set(tunnel.HeaderCluster, "dev")
	resp, err := hsB.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a ticket of an unknown replica: status %d, want 401", resp.StatusCode)
	}
	if _, ok := b.peering.Load().address("evil.example.com"); ok {
		t.Error("the unknown replica became a peer")
	}
}

func TestTicketsNameTheirIssuer(t *testing.T) {
	for ticket, want := range map[string]string{"a.b-1.xyz": "a.b-1", "janus-0.Q2hhbmdl_": "janus-0"} {
		if got, ok := ticketIssuer(ticket); !ok || got != want {
			t.Errorf("ticketIssuer(%q) = %q, %v; want %q", ticket, got, ok, want)
		}
	}
	for _, ticket := range []string{"noissuer", ".x", ""} {
		if got, ok := ticketIssuer(ticket); ok {
			t.Errorf("ticketIssuer(%q) = %q, want none", ticket, got)
		}
	}
}

func TestAReplicaHearsOfTheAgentsItsPeersHold(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	a, b, _, hsB := peeredPair(t, clusters, "0123456789abcdef0123456789abcdef")
	onA := events{connected: make(chan string, 64), disconnected: make(chan string, 64)}
	a.AddListener(onA)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go a.FollowPeerTunnels(ctx, func() []string { return []string{"dev", "prod"} })

	connectAgent(t, b, hsB, clusters, iss, http.NewServeMux())
	waitFor(t, onA.connected, "dev", "replica a hearing of the agent connected to b")
	b.closeUntrusted("dev", "", "the test moves on")
	waitFor(t, onA.disconnected, "dev", "replica a hearing the agent left b")
}

// TestPeerTLSVerifiesWithTheCABundleOfTheMoment: with CABundle (the
// self-managed Secret's CAs) each handshake to a peer trusts the CAs the
// bundle holds then, for ServerName only.
func TestPeerTLSVerifiesWithTheCABundleOfTheMoment(t *testing.T) {
	hs := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(hs.Close)
	servedCA := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hs.Certificate().Raw})
	otherCA, _, err := certutil.GenerateSelfSignedCertKey("other-ca", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var bundle atomic.Pointer[[]byte]
	bundle.Store(&otherCA)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dial := func(serverName string) error {
		s := NewServer(&fakeClusters{}, time.Hour)
		if err := s.EnablePeering(ctx, PeerConfig{ReplicaName: "a", Token: []byte("token"), ServerName: serverName,
			CABundle: func() []byte { return *bundle.Load() }}); err != nil {
			t.Fatal(err)
		}
		transport := s.peering.Load().transport
		defer transport.CloseIdleConnections()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL, nil)
		resp, err := transport.RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := dial("example.com"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("a peer whose CA is not in the bundle: %v, want unknown authority", err)
	}
	bundle.Store(&servedCA)
	if err := dial("example.com"); err != nil {
		t.Errorf("the bundle now holds the peer's CA: %v", err)
	}
	if err := dial("janus-apiserver.janus.svc"); err == nil || !strings.Contains(err.Error(), "janus-apiserver.janus.svc") {
		t.Errorf("a peer certificate for another name: %v, want refused", err)
	}
	empty := []byte{}
	bundle.Store(&empty)
	if err := dial("example.com"); err == nil || !strings.Contains(err.Error(), "no CA") {
		t.Errorf("an empty bundle: %v, want refused", err)
	}
}

// TestPeersVerifiedByACABundleReachEachOthersAgents: the peer link itself
// (remotedialer through the relay) verifies with CABundle when it is set,
// not RootCAs.
func TestPeersVerifiedByACABundleReachEachOthersAgents(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	// The bundle is empty until the servers exist: the first peer dials
	// may fail, and the link comes once it holds their CA.
	var served atomic.Pointer[[]byte]
	a, b, hsA, hsB := peeredPair(t, clusters, "0123456789abcdef0123456789abcdef", func(cfg *PeerConfig) {
		cfg.RootCAs = x509.NewCertPool() // trusts nothing: only the bundle can verify
		cfg.CABundle = func() []byte {
			if p := served.Load(); p != nil {
				return *p
			}
			return nil
		}
	})
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hsA.Certificate().Raw})
	served.Store(&ca)
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "on-b"})
	})
	connectAgent(t, b, hsB, clusters, iss, api)
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return a.Connected("dev"), nil
	}); err != nil {
		t.Fatalf("replica a never saw the agent connected to b over a peer link verified by the bundle: %v", err)
	}
	agent, err := a.Agent("dev")
	if err != nil {
		t.Fatalf("Agent(dev) on a: %v", err)
	}
	if info, err := agent.Info(t.Context()); err != nil || info.Version != "on-b" {
		t.Fatalf("Info from a through b's tunnel: %+v, %v", info, err)
	}
}
