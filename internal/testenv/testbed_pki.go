package testenv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// certValidity is long enough for a playground that stays up for weeks.
const certValidity = 365 * 24 * time.Hour

// frontProxyClientName is the CN of the certificate the aggregator presents
// to janus-apiserver, and the only name janus-apiserver accepts identity
// headers from.
const frontProxyClientName = "front-proxy-client"

// pki holds the files of every certificate, key and token the control plane
// reads. Keys are ECDSA P-256: quick to generate, and accepted everywhere,
// ServiceAccount token signing included.
type pki struct {
	dir string

	clusterCA                           *certAuthority
	caFile, caKeyFile                   string
	apiserverCertFile, apiserverKeyFile string
	adminCertFile, adminKeyFile         string
	controllerManagerCertFile           string
	controllerManagerKeyFile            string
	controllerManagerServingCertFile    string
	controllerManagerServingKeyFile     string

	frontProxyCAFile         string
	frontProxyClientCertFile string
	frontProxyClientKeyFile  string

	serviceAccountKeyFile, serviceAccountPubFile string

	janusCA                     *certAuthority
	janusCertFile, janusKeyFile string

	tokenFile string
	tokens    map[string]string
}

// newPKI writes a fresh PKI for one testbed into dir. janusIP is the
// ClusterIP of the janus-apiserver Service, where janus-apiserver listens.
func newPKI(dir string, janusIP net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir, tokens: map[string]string{}}
	var err error
	w := &pemWriter{dir: dir}

	// The cluster CA signs kube-apiserver's serving certificate and the
	// client certificates kube-apiserver accepts.
	if p.clusterCA, err = newCertAuthority("janus-testbed-cluster-ca"); err != nil {
		return nil, err
	}
	p.caFile = w.write("ca.crt", p.clusterCA.certPEM)
	p.caKeyFile = w.write("ca.key", p.clusterCA.keyPEM)
	p.apiserverCertFile, p.apiserverKeyFile = w.issue(p.clusterCA, "kube-apiserver", certSpec{
		commonName: "kube-apiserver",
		dnsNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		ips:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 1, 0, 1)},
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.adminCertFile, p.adminKeyFile = w.issue(p.clusterCA, "admin", certSpec{
		commonName:    "admin",
		organizations: []string{"system:masters"},
		usages:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.controllerManagerCertFile, p.controllerManagerKeyFile = w.issue(p.clusterCA, "kube-controller-manager", certSpec{
		commonName: "system:kube-controller-manager",
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.controllerManagerServingCertFile, p.controllerManagerServingKeyFile = w.issue(p.clusterCA, "kube-controller-manager-serving", certSpec{
		commonName: "kube-controller-manager",
		dnsNames:   []string{"localhost"},
		ips:        []net.IP{net.IPv4(127, 0, 0, 1)},
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})

	// The front-proxy CA is separate, as it must be: a certificate from it
	// lets its holder assert any identity to janus-apiserver.
	frontProxyCA, err := newCertAuthority("janus-testbed-front-proxy-ca")
	if err != nil {
		return nil, err
	}
	p.frontProxyCAFile = w.write("front-proxy-ca.crt", frontProxyCA.certPEM)
	p.frontProxyClientCertFile, p.frontProxyClientKeyFile = w.issue(frontProxyCA, "front-proxy-client", certSpec{
		commonName: frontProxyClientName,
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating service account signing key: %w", err)
	}
	saKeyPEM, err := keyutil.MarshalPrivateKeyToPEM(saKey)
	if err != nil {
		return nil, fmt.Errorf("encoding service account signing key: %w", err)
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, fmt.Errorf("encoding service account public key: %w", err)
	}
	p.serviceAccountKeyFile = w.write("sa.key", saKeyPEM)
	p.serviceAccountPubFile = w.write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}))

	// janus-apiserver's serving certificate, for the name the aggregator
	// verifies (<service>.<namespace>.svc) and the ClusterIP it dials. Its
	// CA is the APIService's caBundle.
	if p.janusCA, err = newCertAuthority("janus-testbed-janus-serving-ca"); err != nil {
		return nil, err
	}
	w.write("janus-serving-ca.crt", p.janusCA.certPEM)
	p.janusCertFile, p.janusKeyFile = w.issue(p.janusCA, "janus-apiserver", certSpec{
		commonName: "janus-apiserver.janus.svc",
		dnsNames:   []string{"janus-apiserver.janus.svc", "janus-apiserver.janus.svc.cluster.local", "localhost"},
		ips:        []net.IP{janusIP},
		usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})

	var tokenFile strings.Builder
	for _, u := range Users {
		token, err := randomToken()
		if err != nil {
			return nil, err
		}
		p.tokens[u.Name] = token
		fmt.Fprintf(&tokenFile, "%s,%s,%s,\"%s\"\n", token, u.Name, u.UID, strings.Join(u.Groups, ","))
	}
	p.tokenFile = w.write("tokens.csv", []byte(tokenFile.String()))

	if w.err != nil {
		return nil, w.err
	}
	return p, nil
}

// certAuthority signs certificates.
type certAuthority struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

func newCertAuthority(commonName string) (*certAuthority, error) {
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
	return &certAuthority{
		cert:    caCert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw}),
		keyPEM:  keyPEM,
	}, nil
}

// certSpec describes a leaf certificate.
type certSpec struct {
	commonName    string
	organizations []string
	dnsNames      []string
	ips           []net.IP
	usages        []x509.ExtKeyUsage
}

// issue signs a new key pair for spec and returns both as PEM.
func (ca *certAuthority) issue(spec certSpec) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating key for %s: %w", spec.commonName, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, fmt.Errorf("choosing serial number for %s: %w", spec.commonName, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.commonName, Organization: spec.organizations},
		DNSNames:     spec.dnsNames,
		IPAddresses:  spec.ips,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.usages,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for %s: %w", spec.commonName, err)
	}
	keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding key for %s: %w", spec.commonName, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// pemWriter writes files into dir and keeps the first error, so that a
// sequence of writes reads as a list.
type pemWriter struct {
	dir string
	err error
}

func (w *pemWriter) write(name string, data []byte) string {
	path := filepath.Join(w.dir, name)
	if w.err == nil {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			w.err = fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return path
}

func (w *pemWriter) issue(ca *certAuthority, name string, spec certSpec) (certFile, keyFile string) {
	certPEM, keyPEM, err := ca.issue(spec)
	if err != nil && w.err == nil {
		w.err = err
	}
	return w.write(name+".crt", certPEM), w.write(name+".key", keyPEM)
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
