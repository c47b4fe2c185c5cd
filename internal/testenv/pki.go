package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// certValidity is long enough for a playground that stays up for weeks.
const certValidity = 365 * 24 * time.Hour

// CA signs certificates. Keys are ECDSA P-256: quick to generate, and
// accepted everywhere, ServiceAccount token signing included.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
	KeyPEM  []byte
}

// NewCA makes a self-signed certificate authority.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key of %s: %w", commonName, err)
	}
	caCert, err := cert.NewSelfSignedCACert(cert.Config{CommonName: commonName}, key)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", commonName, err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, fmt.Errorf("encoding key of %s: %w", commonName, err)
	}
	return &CA{
		Cert:    caCert,
		Key:     key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}),
		KeyPEM:  keyPEM,
	}, nil
}

// CertSpec describes a leaf certificate.
type CertSpec struct {
	CommonName    string
	Organizations []string
	DNSNames      []string
	IPs           []net.IP
	Usages        []x509.ExtKeyUsage
}

// Issue signs a new key pair for spec and returns both as PEM.
func (ca *CA) Issue(spec CertSpec) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key for %s: %w", spec.CommonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("choosing serial number for %s: %w", spec.CommonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organizations},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.Usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for %s: %w", spec.CommonName, err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding key for %s: %w", spec.CommonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// PEMFiles writes certificates and keys into Dir, mode 0600, and keeps the
// first error in Err, so that a sequence of writes reads as a list.
type PEMFiles struct {
	Dir string
	Err error
}

// Write writes data to Dir/name and returns the path.
func (w *PEMFiles) Write(name string, data []byte) string {
	path := filepath.Join(w.Dir, name)
	if w.Err == nil {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			w.Err = fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return path
}

// Issue has ca sign a certificate for spec and writes it to name.crt and
// its key to name.key.
func (w *PEMFiles) Issue(ca *CA, name string, spec CertSpec) (certFile, keyFile string) {
	certPEM, keyPEM, err := ca.Issue(spec)
	if err != nil && w.Err == nil {
		w.Err = err
	}
	return w.Write(name+".crt", certPEM), w.Write(name+".key", keyPEM)
}

// ServiceAccountKeys writes a fresh ServiceAccount token signing key pair
// to sa.key and sa.pub.
func (w *PEMFiles) ServiceAccountKeys() (keyFile, pubFile string) {
	keyPEM, pubPEM, err := newServiceAccountKey()
	if err != nil && w.Err == nil {
		w.Err = err
	}
	return w.Write("sa.key", keyPEM), w.Write("sa.pub", pubPEM)
}

func newServiceAccountKey() (keyPEM, pubPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating service account signing key: %w", err)
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, fmt.Errorf("encoding service account signing key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, nil, fmt.Errorf("encoding service account public key: %w", err)
	}
	return keyPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), nil
}
