package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// TestTunnelPortServesOnlyConnect: the testbed's agents connect through
// janus-apiserver's tunnel port, under its own CA; /connect is served there,
// and the API, health and metrics paths are plain 404s.
func TestTunnelPortServesOnlyConnect(t *testing.T) {
	t.Parallel()
	caPEM, err := os.ReadFile(bed.TunnelCAFile())
	if err != nil {
		t.Fatal(err)
	}
	// The testbed's agents already connect through this port (their
	// --janus-url names it). Opening another tunnel as dev's agent would
	// take dev's over, so a handshake without a token shows that the
	// tunnel server, not a 404, answers /connect here.
	status, body, err := testenv.ConnectAnswer(bed.TunnelAddress(), caPEM, "dev", "")
	if err != nil || status != http.StatusUnauthorized || body != "agent identity refused: no_token" {
		t.Fatalf("/connect without a token on the tunnel port: %d %q %v, want 401 %q", status, body, err, "agent identity refused: no_token")
	}
	if err := bed.Target("dev").WaitConnected(bg(t), true); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, path := range []string{"/apis/janus.infroware.io/v1alpha1/accessrequests", "/healthz", "/readyz", "/metrics"} {
		resp, err := client.Get("https://" + bed.TunnelAddress() + path)
		if err != nil {
			t.Fatalf("GET %s on the tunnel port: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "apiVersion") {
			t.Errorf("GET %s on the tunnel port: %d %q, want a plain 404", path, resp.StatusCode, b)
		}
	}
}
