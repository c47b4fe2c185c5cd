package integration

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"

	"github.com/infroware/janus/pkg/agent/connector"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

// issuer signs ServiceAccount-shaped JWTs the way a target kube-apiserver
// does, so the tunnel's verification can be tried with every kind of bad
// token. The e2e tests use a real kube-apiserver's tokens.
type issuer struct {
	url string
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T, url string) *issuer {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &issuer{url: url, key: key}
}

func (i *issuer) jwks(t *testing.T) string {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func (i *issuer) token(t *testing.T, subject, audience string, expiry time.Time) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.Claims{Issuer: i.url, Subject: subject, Audience: jwt.Audience{audience}, Expiry: jwt.NewNumericDate(expiry), IssuedAt: jwt.NewNumericDate(time.Now())}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// dialTunnel performs the /connect handshake and returns the HTTP status.
func dialTunnel(t *testing.T, s *framework.Server, cluster, token string) int {
	t.Helper()
	code, _ := handshakeAnswer(t, s, cluster, token)
	return code
}

func TestAgentIdentity(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	devIssuer := newIssuer(t, "https://dev.example.com")
	prodIssuer := newIssuer(t, "https://prod.example.com")
	for name, iss := range map[string]*issuer{"dev": devIssuer, "prod": prodIssuer} {
		trustIssuer(t, e, name, iss)
	}
	agentSA := "system:serviceaccount:janus:janus-agent"
	hour := time.Now().Add(time.Hour)
	forger := newIssuer(t, devIssuer.url) // right issuer name, wrong key

	cases := []struct {
		name    string
		cluster string
		token   string
		want    int
	}{
		{"valid token", "dev", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusSwitchingProtocols},
		{"no token", "dev", "", http.StatusUnauthorized},
		{"garbage", "dev", "not-a-jwt", http.StatusUnauthorized},
		{"wrong audience", "dev", devIssuer.token(t, agentSA, "https://kubernetes.default.svc", hour), http.StatusUnauthorized},
		{"expired", "dev", devIssuer.token(t, agentSA, tunnel.Audience, time.Now().Add(-time.Minute)), http.StatusUnauthorized},
		{"forged signature", "dev", forger.token(t, agentSA, tunnel.Audience, hour), http.StatusUnauthorized},
		{"another service account", "dev", devIssuer.token(t, "system:serviceaccount:default:default", tunnel.Audience, hour), http.StatusUnauthorized},
		{"another cluster's agent", "prod", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusUnauthorized},
		{"unknown cluster", "staging", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusUnauthorized},
		{"a malformed cluster name", "../dev", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusBadRequest},
		{"an upper-case cluster name", "DEV", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusBadRequest},
		{"no cluster name", "", devIssuer.token(t, agentSA, tunnel.Audience, hour), http.StatusBadRequest},
		{"an oversized token", "dev", strings.Repeat("x", 64<<10), http.StatusBadRequest},
		{"a token living longer than an hour", "dev", devIssuer.token(t, agentSA, tunnel.Audience, time.Now().Add(2*time.Hour)), http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := dialTunnel(t, e.server, tc.cluster, tc.token); got != tc.want {
				t.Errorf("handshake answered %d, want %d", got, tc.want)
			}
		})
	}
	if got := e.server.Metric(t, `janus_tunnel_refused_connections_total{reason="invalid_token"}`); got < 4 {
		t.Errorf("refused invalid tokens counted %v times, want at least 4", got)
	}
}

// TestAgentConnectionUpdatesClusterStatus runs an agent tunnel with a
// minimal agent API and checks that Janus reconciles and records it.
func TestAgentConnectionUpdatesClusterStatus(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	iss := newIssuer(t, "https://dev.example.com")
	c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
	mustSucceedCluster(t, err)
	c.Spec.Agent = v1alpha1.ClusterAgent{Issuer: iss.url, JWKS: iss.jwks(t), ServiceAccount: "janus/janus-agent"}
	_, err = e.admin.JanusV1alpha1().Clusters().UpdateAgent(ctx(t), c.Name, c, metav1.UpdateOptions{})
	mustSucceedCluster(t, err)

	reconciled := make(chan tunnel.ReconcileRequest, 4)
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "test", KubernetesVersion: "v1.37.2", Namespaces: []string{"payments", "default"}})
	})
	api.HandleFunc("POST "+tunnel.PathReconcile, func(w http.ResponseWriter, r *http.Request) {
		var req tunnel.ReconcileRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		reconciled <- req
		_ = json.NewEncoder(w).Encode(tunnel.ReconcileResult{})
	})
	tokenFile := t.TempDir() + "/token"
	writeFile(t, tokenFile, iss.token(t, "system:serviceaccount:janus:janus-agent", tunnel.Audience, time.Now().Add(time.Hour)))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.server.ServingCA())
	agentCtx, stopAgent := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = connector.Run(agentCtx, connector.Config{URL: e.server.URL, Cluster: "dev", TokenFile: tokenFile, TLSConfig: &tls.Config{RootCAs: pool}}, api)
	}()
	t.Cleanup(func() { stopAgent(); <-done })

	select {
	case <-reconciled:
	case <-time.After(20 * time.Second):
		t.Fatalf("Janus did not reconcile the cluster after the agent connected")
	}
	waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool {
		return c.Status.Agent.Connected && c.Status.Agent.KubernetesVersion == "v1.37.2" && strings.Join(c.Status.Namespaces, ",") == "default,payments"
	})
	stopAgent()
	<-done
	waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool { return !c.Status.Agent.Connected })
}

func waitForCluster(t *testing.T, e *env, name string, ok func(*v1alpha1.Cluster) bool) {
	t.Helper()
	var last *v1alpha1.Cluster
	err := wait.PollUntilContextTimeout(ctx(t), 50*time.Millisecond, 20*time.Second, true, func(c context.Context) (bool, error) {
		got, err := e.admin.JanusV1alpha1().Clusters().Get(c, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = got
		return ok(got), nil
	})
	if err != nil {
		t.Fatalf("cluster %s never reached the expected status; last: %+v", name, last.Status)
	}
}

func mustSucceedCluster(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("cluster operation: %v", err)
	}
}

// trustIssuer makes cluster trust iss for its agent janus/janus-agent,
// through the clusters/agent subresource.
func trustIssuer(t *testing.T, e *env, cluster string, iss *issuer) {
	t.Helper()
	jwks := iss.jwks(t)
	// Janus writes the Cluster's status as tunnels come and go.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), cluster, metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Spec.Agent = v1alpha1.ClusterAgent{Issuer: iss.url, JWKS: jwks, ServiceAccount: "janus/janus-agent"}
		_, err = e.admin.JanusV1alpha1().Clusters().UpdateAgent(ctx(t), c.Name, c, metav1.UpdateOptions{})
		return err
	})
	mustSucceedCluster(t, err)
}

// holdTunnel opens a tunnel and keeps it; the returned channel is closed
// when Janus closes it.
func holdTunnel(t *testing.T, s *framework.Server, cluster, token string) <-chan struct{} {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.ServingCA())
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
	header := http.Header{tunnel.HeaderCluster: {cluster}, tunnel.HeaderAgentToken: {token}}
	conn, resp, err := dialer.Dial(strings.Replace(s.URL, "https://", "wss://", 1)+tunnel.ConnectPath, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("opening a tunnel for %s: %v (HTTP %d)", cluster, err, status)
	}
	t.Cleanup(func() { conn.Close() })
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	return closed
}

func expectClosedWithin(t *testing.T, closed <-chan struct{}, since time.Time, bound time.Duration, what string) {
	t.Helper()
	select {
	case <-closed:
		t.Logf("%s: tunnel closed %s later", what, time.Since(since).Round(time.Millisecond))
	case <-time.After(bound):
		t.Fatalf("%s: the tunnel was still open after %s", what, bound)
	}
}

func expectOpen(t *testing.T, closed <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-closed:
		t.Fatalf("%s: the tunnel was closed", what)
	default:
	}
}

// TestTunnelFollowsItsCluster: a tunnel lives only as long as the trust it
// was verified under; the newest verified tunnel of a cluster replaces the
// ones before it.
func TestTunnelFollowsItsCluster(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	agentSA := "system:serviceaccount:janus:janus-agent"
	hour := time.Now().Add(time.Hour)
	trust := func(name string, iss *issuer) { trustIssuer(t, e, name, iss) }
	old := newIssuer(t, "https://dev.example.com")
	trust("dev", old)

	first := holdTunnel(t, e.server, "dev", old.token(t, agentSA, tunnel.Audience, hour))
	second := holdTunnel(t, e.server, "dev", old.token(t, agentSA, tunnel.Audience, hour))
	expectClosedWithin(t, first, time.Now(), 5*time.Second, "a newer tunnel was verified")
	expectOpen(t, second, "after it replaced the first")

	// An edit that leaves spec.agent alone keeps the tunnel. Janus writes
	// the Cluster's status as tunnels come and go: a conflict is retried.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
		if err != nil {
			return err
		}
		c.Spec.DisplayName = "Development"
		_, err = e.admin.JanusV1alpha1().Clusters().Update(ctx(t), c, metav1.UpdateOptions{})
		return err
	})
	mustSucceedCluster(t, err)

	rotated := time.Now()
	trust("dev", newIssuer(t, "https://dev.example.com"))
	expectClosedWithin(t, second, rotated, 2*time.Second, "spec.agent was rotated")
	if got := dialTunnel(t, e.server, "dev", old.token(t, agentSA, tunnel.Audience, hour)); got != http.StatusUnauthorized {
		t.Errorf("a token of the old trust after the rotation: %d, want 401", got)
	}

	prod := newIssuer(t, "https://prod.example.com")
	trust("prod", prod)
	held := holdTunnel(t, e.server, "prod", prod.token(t, agentSA, tunnel.Audience, hour))
	deleted := time.Now()
	if err := e.admin.JanusV1alpha1().Clusters().Delete(ctx(t), "prod", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expectClosedWithin(t, held, deleted, 2*time.Second, "the Cluster was deleted")
}

// TestRotatingAgentTrustCutsOpenSessions: the streams opened through a
// tunnel go with the trust it was verified under.
func TestRotatingAgentTrustCutsOpenSessions(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	echoAgent(t, e)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "rotation test"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
	conn := openExec(t, e, ar.Name)
	echo(t, conn, "before")

	var rotated time.Time
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
		if err != nil {
			return err
		}
		rogue := newIssuer(t, c.Spec.Agent.Issuer)
		c.Spec.Agent.JWKS = rogue.jwks(t)
		rotated = time.Now()
		_, err = e.admin.JanusV1alpha1().Clusters().UpdateAgent(ctx(t), c.Name, c, metav1.UpdateOptions{})
		return err
	})
	mustSucceedCluster(t, err)
	expectFrame(t, conn, channelStderr, "\r\njanus: connection to the pod lost\r\n")
	t.Logf("the session was cut %s after the rotation", time.Since(rotated).Round(time.Millisecond))
	if took := time.Since(rotated); took > 2*time.Second {
		t.Errorf("the session outlived its tunnel's trust by %s", took)
	}
}

// TestTunnelEndsWithItsToken: a tunnel is closed when the token it was
// opened with expires.
func TestTunnelEndsWithItsToken(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	iss := newIssuer(t, "https://dev.example.com")
	trustIssuer(t, e, "dev", iss)
	expires := time.Now().Add(3 * time.Second)
	held := holdTunnel(t, e.server, "dev", iss.token(t, "system:serviceaccount:janus:janus-agent", tunnel.Audience, expires))
	expectOpen(t, held, "before its token expired")
	select {
	case <-held:
		// JWT times are whole seconds.
		if early := time.Until(expires.Truncate(time.Second)); early > 0 {
			t.Errorf("the tunnel was closed %s before its token expired", early)
		}
		t.Logf("closed %s after the token's expiry", time.Since(expires).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatal("the tunnel outlived its token by 7s")
	}
}
