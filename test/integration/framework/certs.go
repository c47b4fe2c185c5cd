package framework

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// frontProxyPKI is the CA the aggregator's client certificate is signed by,
// and that certificate, written to files as janus-apiserver reads them.
type frontProxyPKI struct {
	caFile, certFile, keyFile string
	clientName                string
}

func newFrontProxyPKI(t testing.TB) *frontProxyPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating front-proxy CA key: %v", err)
	}
	ca, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "janus-test-front-proxy-ca"}, caKey)
	if err != nil {
		t.Fatalf("generating front-proxy CA: %v", err)
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating front-proxy client key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "front-proxy-client"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, clientKey.Public(), crypto.Signer(caKey))
	if err != nil {
		t.Fatalf("signing front-proxy client certificate: %v", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(clientKey)
	if err != nil {
		t.Fatalf("encoding front-proxy client key: %v", err)
	}
	p := &frontProxyPKI{
		caFile:     filepath.Join(dir, "front-proxy-ca.crt"),
		certFile:   filepath.Join(dir, "front-proxy-client.crt"),
		keyFile:    filepath.Join(dir, "front-proxy-client.key"),
		clientName: "front-proxy-client",
	}
	write := func(path string, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
	}
	write(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
	write(p.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write(p.keyFile, keyPEM)
	return p
}
