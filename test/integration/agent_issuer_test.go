package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

// handshakeAnswer performs the /connect handshake and returns the HTTP
// status and, for a refusal, the body, which names the refusal's reason.
func handshakeAnswer(t *testing.T, s *framework.Server, cluster, token string) (int, string) {
	t.Helper()
	status, body, err := testenv.ConnectAnswer(strings.TrimPrefix(s.URL, "https://"), s.ServingCA(), cluster, token)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

// TestAgentTokenFromAnotherIssuerIsRefused: the key alone does not make a
// token the cluster's; a token signed with the trusted key but naming
// another issuer is refused as an invalid token, and so is a token of the
// right issuer presented for a cluster that trusts a different one.
func TestAgentTokenFromAnotherIssuerIsRefused(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	dev := newIssuer(t, "https://dev.example.com")
	trustIssuer(t, e, "dev", dev)
	prod := newIssuer(t, "https://prod.example.com")
	trustIssuer(t, e, "prod", prod)
	agentSA := "system:serviceaccount:janus:janus-agent"
	hour := time.Now().Add(time.Hour)

	if got, body := handshakeAnswer(t, e.server, "dev", dev.token(t, agentSA, tunnel.Audience, hour)); got != http.StatusSwitchingProtocols {
		t.Fatalf("the trusted issuer's own token: %d %q, want a tunnel", got, body)
	}
	before := e.server.Metric(t, `janus_tunnel_refused_connections_total{reason="invalid_token"}`)
	impostor := &issuer{url: "https://impostor.example.com", key: dev.key} // the trusted key, another issuer
	cases := []struct{ name, cluster, token string }{
		{"the trusted key under another issuer", "dev", impostor.token(t, agentSA, tunnel.Audience, hour)},
		{"dev's agent token presented for prod", "prod", dev.token(t, agentSA, tunnel.Audience, hour)},
	}
	for _, tc := range cases {
		got, body := handshakeAnswer(t, e.server, tc.cluster, tc.token)
		if got != http.StatusUnauthorized || body != "agent identity refused: invalid_token" {
			t.Errorf("%s: answered %d %q, want 401 %q", tc.name, got, body, "agent identity refused: invalid_token")
		}
	}
	if after := e.server.Metric(t, `janus_tunnel_refused_connections_total{reason="invalid_token"}`); after-before != float64(len(cases)) {
		t.Errorf("invalid_token refusals went from %v to %v, want %d more", before, after, len(cases))
	}
}

// discoveryIssuer is an OpenID issuer over HTTPS that serves its discovery
// document and its keys, counting the fetches of each.
type discoveryIssuer struct {
	*issuer
	server                 *httptest.Server
	discoveries, keyFetchs atomic.Int32
}

func newDiscoveryIssuer(t *testing.T) *discoveryIssuer {
	d := &discoveryIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		d.discoveries.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                d.url,
			"jwks_uri":                              d.url + "/openid/v1/jwks",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /openid/v1/jwks", func(w http.ResponseWriter, _ *http.Request) {
		d.keyFetchs.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = io.WriteString(w, d.jwks(t))
	})
	d.server = httptest.NewTLSServer(mux)
	t.Cleanup(d.server.Close)
	d.issuer = newIssuer(t, d.server.URL)
	return d
}

// TestAgentTrustByDiscovery: a Cluster whose spec.agent names an issuer
// and no JWKS has its agent's token verified with the keys Janus finds
// through the issuer's discovery document; a token signed with another key
// is still refused.
//
// Janus fetches discovery documents with Go's default transport and the
// system's roots; the test trusts its issuer's certificate there, so it
// must not run in parallel with others.
func TestAgentTrustByDiscovery(t *testing.T) {
	iss := newDiscoveryIssuer(t)
	defaultTransport := http.DefaultTransport
	http.DefaultTransport = iss.server.Client().Transport
	t.Cleanup(func() { http.DefaultTransport = defaultTransport })
	e := newEnv(t, framework.SQLite)

	c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
	mustSucceedCluster(t, err)
	c.Spec.Agent = v1alpha1.ClusterAgent{Issuer: iss.url, ServiceAccount: "janus/janus-agent"}
	_, err = e.admin.JanusV1alpha1().Clusters().UpdateAgent(ctx(t), c.Name, c, metav1.UpdateOptions{})
	mustSucceedCluster(t, err)

	agentSA := "system:serviceaccount:janus:janus-agent"
	hour := time.Now().Add(time.Hour)
	if got, body := handshakeAnswer(t, e.server, "dev", iss.token(t, agentSA, tunnel.Audience, hour)); got != http.StatusSwitchingProtocols {
		t.Fatalf("a token of the discovered issuer: %d %q, want a tunnel", got, body)
	}
	if iss.discoveries.Load() == 0 || iss.keyFetchs.Load() == 0 {
		t.Errorf("the issuer served %d discovery documents and %d key sets; want Janus to have fetched both", iss.discoveries.Load(), iss.keyFetchs.Load())
	}
	forger := newIssuer(t, iss.url) // the issuer's name, another key
	if got, body := handshakeAnswer(t, e.server, "dev", forger.token(t, agentSA, tunnel.Audience, hour)); got != http.StatusUnauthorized || body != "agent identity refused: invalid_token" {
		t.Errorf("a token signed with a key the issuer does not publish: %d %q, want 401 invalid_token", got, body)
	}
}
