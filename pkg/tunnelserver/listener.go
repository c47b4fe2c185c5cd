package tunnelserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// Listener is the tunnel's own port: /connect and nothing else, so that
// agents can be let in where the API must stay unexposed.
type Listener struct {
	// Listener accepts the agents' TCP connections.
	Listener net.Listener
	// Cert is the serving certificate, read again on every handshake so
	// that a rotated one is used without a restart.
	Cert dynamiccertificates.CertKeyContentProvider
	// WatchCert has Serve run Cert's file watch: set when Cert is the
	// tunnel's own, not the API port's, which its secure serving (or
	// the self-managed certificate manager) already keeps current.
	WatchCert bool
	// MinTLSVersion is the oldest TLS version accepted.
	MinTLSVersion uint16

	mu     sync.Mutex
	pem    []byte
	parsed *tls.Certificate
}

// listenerShutdownGrace bounds how long handshakes in flight may finish
// once the server stops; open tunnels are hijacked connections that end
// with the process.
const listenerShutdownGrace = 5 * time.Second

// Serve serves tunnels on l until ctx is done. Any path but /connect is a
// plain 404: no API, health or metrics endpoint sits behind this port.
func (l *Listener) Serve(ctx context.Context, tunnels http.Handler) error {
	if runner, ok := l.Cert.(dynamiccertificates.ControllerRunner); ok && l.WatchCert {
		if err := runner.RunOnce(ctx); err != nil {
			return fmt.Errorf("loading the tunnel serving certificate: %w", err)
		}
		go runner.Run(ctx, 1)
	}
	server := &http.Server{
		Handler:           connectOnly(tunnels),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          klog.NewStandardLogger("INFO"),
		TLSConfig: &tls.Config{
			MinVersion:     l.MinTLSVersion,
			GetCertificate: l.certificate,
			// The tunnel is a websocket: HTTP/1.1 upgrades only.
			NextProtos: []string{"http/1.1"},
		},
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), listenerShutdownGrace)
		defer cancel()
		_ = server.Shutdown(shutdownCtx)
	}()
	klog.InfoS("Serving agent tunnels", "address", l.Listener.Addr().String(), "path", tunnel.ConnectPath)
	if err := server.ServeTLS(l.Listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving agent tunnels on %s: %w", l.Listener.Addr(), err)
	}
	return nil
}

// connectOnly passes /connect to tunnels and answers everything else 404,
// without the redirects and path cleaning of a ServeMux.
func connectOnly(tunnels http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tunnel.ConnectPath {
			http.NotFound(w, r)
			return
		}
		tunnels.ServeHTTP(w, r)
	})
}

// certificate parses the provider's current pair, once per change.
func (l *Listener) certificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	certPEM, keyPEM := l.Cert.CurrentCertKeyContent()
	current := append(append([]byte(nil), certPEM...), keyPEM...)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.parsed != nil && bytes.Equal(l.pem, current) {
		return l.parsed, nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parsing the tunnel serving certificate %s: %w", l.Cert.Name(), err)
	}
	l.pem, l.parsed = current, &cert
	return l.parsed, nil
}
