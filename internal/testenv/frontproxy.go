package testenv

import (
	"crypto/x509"
	"fmt"
	"os"
)

// FrontProxy is what the aggregator authenticates to an aggregated server
// with: a CA of its own (a certificate from it lets its holder assert any
// identity, so it is never the cluster CA) and the client certificate
// signed by it, as files.
type FrontProxy struct {
	CAFile, CertFile, KeyFile string
	// ClientName is the certificate's CN, the only name the aggregated
	// server accepts identity headers from.
	ClientName string
}

// NewFrontProxy writes a fresh front-proxy CA and client certificate into
// dir: front-proxy-ca.crt, front-proxy-client.crt and .key.
func NewFrontProxy(dir string) (*FrontProxy, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	ca, err := NewCA("janus-testbed-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	w := &PEMFiles{Dir: dir}
	fp := &FrontProxy{CAFile: w.Write("front-proxy-ca.crt", ca.CertPEM), ClientName: frontProxyClientName}
	fp.CertFile, fp.KeyFile = w.Issue(ca, "front-proxy-client", CertSpec{
		CommonName: frontProxyClientName,
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return fp, w.Err
}
