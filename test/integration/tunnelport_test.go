package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/agent/connector"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

// tunnelPort is a janus-apiserver tunnel port under test: its address and
// the files of its certificate.
type tunnelPort struct {
	address  string
	ca       *testenv.CA
	certFile string
	keyFile  string
}

// withTunnelPort gives the server a tunnel port of its own. With a CA the
// port serves a certificate of that CA from files; without, it reuses the
// API port's.
func withTunnelPort(t *testing.T, ca *testenv.CA, onAPIPort bool) (*tunnelPort, framework.Option) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tunnelPort{address: listener.Addr().String(), ca: ca}
	if ca != nil {
		p.certFile, p.keyFile = issueTunnelCert(t, ca, t.TempDir())
	}
	return p, func(o *server.JanusServerOptions) {
		o.Tunnel.Listener = listener
		o.Tunnel.CertFile, o.Tunnel.KeyFile = p.certFile, p.keyFile
		o.Tunnel.OnAPIPort = onAPIPort
	}
}

func issueTunnelCert(t *testing.T, ca *testenv.CA, dir string) (certFile, keyFile string) {
	t.Helper()
	files := &testenv.PEMFiles{Dir: dir}
	certFile, keyFile = files.Issue(ca, "tunnel", testenv.CertSpec{
		CommonName: "janus-tunnel",
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if files.Err != nil {
		t.Fatal(files.Err)
	}
	return certFile, keyFile
}

func newTunnelCA(t *testing.T) *testenv.CA {
	t.Helper()
	ca, err := testenv.NewCA("janus-test-tunnel-ca")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// TestTunnelPortServesOnlyConnect: an agent connects through the tunnel
// port, under the tunnel's own certificate; the API, health and metrics
// paths there are plain 404s, and /connect has left the API port.
func TestTunnelPortServesOnlyConnect(t *testing.T) {
	port, opt := withTunnelPort(t, newTunnelCA(t), false)
	e := newEnv(t, framework.SQLite, opt)
	iss := newIssuer(t, "https://dev.example.com")
	trustIssuer(t, e, "dev", iss)
	token := iss.token(t, "system:serviceaccount:janus:janus-agent", tunnel.Audience, time.Now().Add(time.Hour))

	// A real agent, trusting only the tunnel's CA.
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "test", KubernetesVersion: "v1.37.2"})
	})
	api.HandleFunc("POST "+tunnel.PathReconcile, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.ReconcileResult{})
	})
	tokenFile := filepath.Join(t.TempDir(), "token")
	writeFile(t, tokenFile, token)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(port.ca.CertPEM)
	agentCtx, stopAgent := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = connector.Run(agentCtx, connector.Config{URL: "https://" + port.address, Cluster: "dev", TokenFile: tokenFile, TLSConfig: &tls.Config{RootCAs: pool}}, api)
	}()
	t.Cleanup(func() { stopAgent(); <-done })
	waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, path := range []string{
		"/apis/janus.infroware.io/v1alpha1/accessrequests",
		"/apis",
		"/healthz",
		"/readyz",
		"/metrics",
		"/openapi/v2",
		"/",
		"/connect/",
		"//connect",
	} {
		resp, err := client.Get("https://" + port.address + path)
		if err != nil {
			t.Fatalf("GET %s on the tunnel port: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(body), "apiVersion") {
			t.Errorf("GET %s on the tunnel port: %d %q, want a plain 404", path, resp.StatusCode, body)
		}
	}

	// With --tunnel-on-api-port=false the API port has no /connect: the
	// request meets the API's authentication like any other path.
	if got, body := handshakeAnswer(t, e.server, "dev", token); got == http.StatusSwitchingProtocols {
		t.Errorf("/connect on the API port opened a tunnel (%q) with --tunnel-on-api-port=false", body)
	}
	// The tunnel port presents its own certificate, not the API's.
	if _, _, err := testenv.ConnectAnswer(port.address, e.server.ServingCA(), "dev", token); err == nil {
		t.Errorf("the tunnel port's certificate verified under the API's serving CA")
	}
}

// TestTunnelPortReusesTheServingCertificate: without files of its own the
// tunnel port serves the API port's certificate, so agents trusting the
// serving CA can move to it; /connect stays on the API port by default.
func TestTunnelPortReusesTheServingCertificate(t *testing.T) {
	port, opt := withTunnelPort(t, nil, true)
	e := newEnv(t, framework.SQLite, opt)
	iss := newIssuer(t, "https://dev.example.com")
	trustIssuer(t, e, "dev", iss)
	token := iss.token(t, "system:serviceaccount:janus:janus-agent", tunnel.Audience, time.Now().Add(time.Hour))
	status, body, err := testenv.ConnectAnswer(port.address, e.server.ServingCA(), "dev", token)
	if err != nil || status != http.StatusSwitchingProtocols {
		t.Errorf("/connect on the tunnel port: %d %q %v, want a tunnel", status, body, err)
	}
	if got, body := handshakeAnswer(t, e.server, "dev", token); got != http.StatusSwitchingProtocols {
		t.Errorf("/connect on the API port: %d %q, want a tunnel (--tunnel-on-api-port defaults to true)", got, body)
	}
}

// TestTunnelCertificateReloadsAfterRotation: a certificate written over
// the files is what the next TLS handshake sees, without a restart.
func TestTunnelCertificateReloadsAfterRotation(t *testing.T) {
	ca := newTunnelCA(t)
	port, opt := withTunnelPort(t, ca, true)
	newEnv(t, framework.SQLite, opt)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	served := func() (*x509.Certificate, error) {
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", port.address, &tls.Config{RootCAs: pool})
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0], nil
	}
	before, err := served()
	if err != nil {
		t.Fatalf("handshake before rotation: %v", err)
	}

	// Rotate as a kubelet updates a mounted Secret: new files renamed
	// over the old ones.
	staging := t.TempDir()
	newCert, newKey := issueTunnelCert(t, ca, staging)
	for from, to := range map[string]string{newKey: port.keyFile, newCert: port.certFile} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	wantPEM, err := os.ReadFile(port.certFile)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(wantPEM)
	want, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var last *x509.Certificate
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		c, err := served()
		if err != nil {
			t.Logf("handshake during rotation: %v", err)
			return false, nil
		}
		last = c
		return c.SerialNumber.Cmp(want.SerialNumber) == 0, nil
	})
	if err != nil {
		t.Fatalf("the tunnel port still serves serial %v (before rotation %v) after the files were rotated", last.SerialNumber, before.SerialNumber)
	}
	if want.SerialNumber.Cmp(before.SerialNumber) == 0 {
		t.Fatalf("the rotated certificate has the old serial %v", before.SerialNumber)
	}
}
