package testenv

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
)

// frontProxyClientName is the CN of the certificate the aggregator presents
// to janus-apiserver, and the only name janus-apiserver accepts identity
// headers from.
const frontProxyClientName = "front-proxy-client"

// pki holds the files of every certificate, key and token the testbed's
// control plane reads.
type pki struct {
	dir string

	cluster                          *ClusterCerts
	controllerManagerCertFile        string
	controllerManagerKeyFile         string
	controllerManagerServingCertFile string
	controllerManagerServingKeyFile  string

	frontProxyCAFile         string
	frontProxyClientCertFile string
	frontProxyClientKeyFile  string

	serviceAccountKeyFile, serviceAccountPubFile string

	janusCA                     *CA
	janusCertFile, janusKeyFile string

	// The agents' tunnel port has a CA of its own, as when it is exposed
	// under another name than the API.
	tunnelCA                      *CA
	tunnelCertFile, tunnelKeyFile string

	tokenFile string
	tokens    map[string]string
}

// newPKI writes a fresh PKI for one testbed into dir. janusIP is the
// ClusterIP of the janus-apiserver Service, where janus-apiserver listens;
// replicaIPs, where the replicas listen when there are several.
func newPKI(dir string, janusIP net.IP, replicaIPs ...net.IP) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{dir: dir, tokens: map[string]string{}}
	var err error
	w := &PEMFiles{Dir: dir}

	// The cluster CA signs the kube-apiservers' serving certificate and the
	// client certificates they accept.
	if p.cluster, err = NewClusterCerts(dir, "janus-testbed-cluster-ca"); err != nil {
		return nil, err
	}
	p.controllerManagerCertFile, p.controllerManagerKeyFile = w.Issue(p.cluster.CA, "kube-controller-manager", CertSpec{
		CommonName: "system:kube-controller-manager",
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.controllerManagerServingCertFile, p.controllerManagerServingKeyFile = w.Issue(p.cluster.CA, "kube-controller-manager-serving", CertSpec{
		CommonName: "kube-controller-manager",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})

	// The front-proxy CA is separate, as it must be: a certificate from it
	// lets its holder assert any identity to janus-apiserver.
	frontProxy, err := NewFrontProxy(dir)
	if err != nil {
		return nil, err
	}
	p.frontProxyCAFile, p.frontProxyClientCertFile, p.frontProxyClientKeyFile = frontProxy.CAFile, frontProxy.CertFile, frontProxy.KeyFile

	p.serviceAccountKeyFile, p.serviceAccountPubFile = w.ServiceAccountKeys()

	// janus-apiserver's serving certificate, for the name the aggregator
	// verifies (<service>.<namespace>.svc) and the ClusterIP it dials. Its
	// CA is the APIService's caBundle.
	if p.janusCA, err = NewCA("janus-testbed-janus-serving-ca"); err != nil {
		return nil, err
	}
	w.Write("janus-serving-ca.crt", p.janusCA.CertPEM)
	p.janusCertFile, p.janusKeyFile = w.Issue(p.janusCA, "janus-apiserver", CertSpec{
		CommonName: "janus-apiserver.janus.svc",
		DNSNames:   []string{"janus-apiserver.janus.svc", "janus-apiserver.janus.svc.cluster.local", "localhost"},
		IPs:        append([]net.IP{janusIP}, replicaIPs...),
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})

	if p.tunnelCA, err = NewCA("janus-testbed-tunnel-ca"); err != nil {
		return nil, err
	}
	w.Write(tunnelCAFileName, p.tunnelCA.CertPEM)
	p.tunnelCertFile, p.tunnelKeyFile = w.Issue(p.tunnelCA, "janus-tunnel", CertSpec{
		CommonName: "janus-tunnel.janus.test",
		DNSNames:   []string{"janus-tunnel.janus.test", "localhost"},
		IPs:        append([]net.IP{janusIP}, replicaIPs...),
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
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
	p.tokenFile = w.Write("tokens.csv", []byte(tokenFile.String()))

	if w.Err != nil {
		return nil, w.Err
	}
	return p, nil
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
