package tunnelserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/tools/cache"

	"github.com/infroware/janus/pkg/agent/connector"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// events records the listener calls of a Server.
type events struct{ connected, disconnected chan string }

func (e events) AgentConnected(cluster string)    { e.connected <- cluster }
func (e events) AgentDisconnected(cluster string) { e.disconnected <- cluster }

func waitFor(t *testing.T, ch <-chan string, want, what string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("%s: cluster %q, want %q", what, got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10s", what)
	}
}

// loop runs s on an in-process TLS server and the real connector of
// cluster dev against it, serving api. It returns once the tunnel is up.
func loop(t *testing.T, s *Server, clusters *fakeClusters, iss *testIssuer, api http.Handler) events {
	t.Helper()
	hs := httptest.NewTLSServer(s)
	t.Cleanup(hs.Close)
	return connectAgent(t, s, hs, clusters, iss, api)
}

// connectAgent runs the real connector of cluster dev against s, served
// by hs, and returns once the tunnel is up.
func connectAgent(t *testing.T, s *Server, hs *httptest.Server, clusters *fakeClusters, iss *testIssuer, api http.Handler) events {
	t.Helper()
	ev := events{connected: make(chan string, 64), disconnected: make(chan string, 64)}
	s.AddListener(ev)
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(iss.token(t, time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = connector.Run(ctx, connector.Config{URL: hs.URL, Cluster: "dev", TokenFile: tokenFile, TLSConfig: &tls.Config{RootCAs: pool}}, api)
	}()
	t.Cleanup(func() {
		// The tunnel ends from the server's side first: remotedialer's
		// client races with itself when its context ends while a session
		// is up (startPings against stopPings).
		clusters.remove("dev")
		deadline := time.Now().Add(10 * time.Second)
		for quiet := 0; quiet < 2; {
			s.closeUntrusted("dev", "", "the test is over")
			if s.Connected("dev") || len(s.handshakes) > 0 {
				quiet = 0
			} else {
				quiet++
			}
			if time.Now().After(deadline) {
				t.Error("the agent's tunnel did not end within 10s")
				break
			}
			time.Sleep(50 * time.Millisecond) // polling, bounded by deadline
		}
		cancel()
		<-done
	})
	waitFor(t, ev.connected, "dev", "the agent connecting")
	return ev
}

func TestAgentClientAndStreamsThroughAnInProcessTunnel(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	s := NewServer(clusters, time.Hour)
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "test", Namespaces: []string{"payments"}})
	})
	api.HandleFunc("DELETE "+tunnel.PathGrants+"{request}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(tunnel.Error{Message: "not " + r.PathValue("request"), Refused: true})
	})
	api.HandleFunc("GET /stream", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "streamed") })
	loop(t, s, clusters, iss, api)

	if _, err := s.Agent("prod"); err != ErrNotConnected {
		t.Errorf("Agent of a cluster without a tunnel: %v, want ErrNotConnected", err)
	}
	agent, err := s.Agent("dev")
	if err != nil {
		t.Fatalf("Agent(dev): %v", err)
	}
	info, err := agent.Info(t.Context())
	if err != nil || info.Version != "test" {
		t.Errorf("Info through the tunnel: %+v, %v", info, err)
	}
	err = agent.RemoveGrant(t.Context(), "r1")
	agentErr, ok := err.(*AgentError)
	if !ok || agentErr.StatusCode != http.StatusForbidden || !agentErr.Refused || agentErr.Message != "not r1" {
		t.Errorf("a refusal through the tunnel: %#v, want the agent's 403 refusal", err)
	}

	if body := streamGet(t, s); body != "streamed" {
		t.Errorf("the stream answered %q, want streamed", body)
	}
}

// streamGet opens a stream of cluster dev on s and asks the agent for
// /stream on it, returning the answer's body.
func streamGet(t *testing.T, s *Server) string {
	t.Helper()
	conn, err := s.OpenStream(t.Context(), "dev")
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	defer conn.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+tunnel.AgentAddress+"/stream", nil)
	if err := req.Write(conn); err != nil {
		t.Fatalf("sending a request on the stream connection: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("reading the stream's answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

func TestTrustChangesCloseTunnelsAndTheirStreams(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	dev := trustingCluster(t, "dev", iss)
	clusters.set(dev)
	s := NewServer(clusters, time.Hour)
	api := http.NewServeMux()
	api.HandleFunc("GET /hold", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	ev := loop(t, s, clusters, iss, api)
	handler := s.ClusterTrustHandler()
	asAPI := func(agent v1alpha1.ClusterAgent) *v1alpha1.Cluster {
		c := &v1alpha1.Cluster{}
		c.Name = "dev"
		c.Spec.Agent = agent
		return c
	}
	trusted := v1alpha1.ClusterAgent{Issuer: dev.Spec.Agent.Issuer, JWKS: dev.Spec.Agent.JWKS, ServiceAccount: dev.Spec.Agent.ServiceAccount}
	openTunnels := func() (open int) {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, tun := range s.open["dev"] {
			tun.mu.Lock()
			if !tun.closed {
				open++
			}
			tun.mu.Unlock()
		}
		return open
	}

	// An update that leaves spec.agent alone (say, a new displayName)
	// closes nothing.
	handler.OnUpdate(asAPI(trusted), asAPI(trusted))
	if n := openTunnels(); n != 1 {
		t.Fatalf("after an update of something else %d open tunnels, want 1", n)
	}

	stream, err := s.OpenStream(t.Context(), "dev")
	if err != nil {
		t.Fatalf("OpenStream: %v", err)
	}
	defer stream.Close()
	req, _ := http.NewRequest(http.MethodGet, "http://"+tunnel.AgentAddress+"/hold", nil)
	if err := req.Write(stream); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(stream)
	_ = stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := http.ReadResponse(br, req); err != nil {
		t.Fatalf("the held stream's answer: %v", err)
	}

	rotated := trusted
	rotated.ServiceAccount = "kube-system/janus-agent"
	handler.OnUpdate(asAPI(trusted), asAPI(rotated))
	if n := openTunnels(); n != 0 {
		t.Errorf("after spec.agent changed %d open tunnels, want 0", n)
	}
	waitFor(t, ev.disconnected, "dev", "the tunnel under the old trust closing")
	_ = stream.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Error("the stream opened under the old trust is still readable")
	} else if os.IsTimeout(err) {
		t.Error("the stream opened under the old trust was not closed")
	}

	// The agent reconnects (the fake storage still trusts it); deleting
	// the Cluster closes that tunnel too.
	waitFor(t, ev.connected, "dev", "the agent reconnecting")
	handler.OnDelete(cache.DeletedFinalStateUnknown{Key: "dev", Obj: asAPI(trusted)})
	waitFor(t, ev.disconnected, "dev", "the tunnel of a deleted Cluster closing")
}
