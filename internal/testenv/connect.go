package testenv

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/infroware/janus/pkg/tunnel"
)

// ConnectAnswer tries janus-apiserver's /connect at address (host:port),
// served under servingCA, as the agent of cluster with token (none when
// empty). It returns 101 when the tunnel opened (and closes it at once),
// or the refusal's HTTP status and body, which names its reason.
func ConnectAnswer(address string, servingCA []byte, cluster, token string) (int, string, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(servingCA) {
		return 0, "", fmt.Errorf("no PEM certificate in the serving CA")
	}
	header := http.Header{}
	header.Set(tunnel.HeaderCluster, cluster)
	if token != "" {
		header.Set(tunnel.HeaderAgentToken, token)
	}
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("wss://"+address+tunnel.ConnectPath, header)
	if conn != nil {
		conn.Close()
		return http.StatusSwitchingProtocols, "", nil
	}
	if resp == nil {
		return 0, "", fmt.Errorf("dialing /connect: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}
