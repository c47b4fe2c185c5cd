package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
)

// ServiceAccountIssuer is what a real cluster would use; nothing outside
// the environment needs to reach it.
const ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// KubeAPIServerConfig is what differs between the kube-apiservers the
// environment runs: the testbed's central one, its target clusters, and
// the bare one of the agent's tests.
type KubeAPIServerConfig struct {
	// Name is the process's name, and of its log.
	Name   string
	Binary string
	// EtcdURL is the etcd it stores in, under EtcdPrefix if set, so that
	// several kube-apiservers can share one etcd.
	EtcdURL, EtcdPrefix string
	// Certs are what it serves and trusts.
	Certs *ClusterCerts
	// ServiceAccountIssuer defaults to the package's ServiceAccountIssuer.
	ServiceAccountIssuer                         string
	ServiceAccountKeyFile, ServiceAccountPubFile string
	// ServiceClusterIPRange defaults to 10.96.0.0/16.
	ServiceClusterIPRange string
	// ExtraArgs follow the common flags.
	ExtraArgs []string
}

// StartKubeAPIServer runs a kube-apiserver on a free port of 127.0.0.1 as a
// process of s, with client certificates and Node,RBAC authorization, and
// returns its URL once /readyz answers.
func StartKubeAPIServer(ctx context.Context, s *Supervisor, c KubeAPIServerConfig) (string, error) {
	port, err := FreePort()
	if err != nil {
		return "", err
	}
	if c.ServiceAccountIssuer == "" {
		c.ServiceAccountIssuer = ServiceAccountIssuer
	}
	if c.ServiceClusterIPRange == "" {
		c.ServiceClusterIPRange = "10.96.0.0/16"
	}
	args := []string{
		"--etcd-servers=" + c.EtcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + c.Certs.ServingCertFile,
		"--tls-private-key-file=" + c.Certs.ServingKeyFile,
		"--client-ca-file=" + c.Certs.CAFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + c.ServiceAccountIssuer,
		"--service-account-key-file=" + c.ServiceAccountPubFile,
		"--service-account-signing-key-file=" + c.ServiceAccountKeyFile,
		"--service-cluster-ip-range=" + c.ServiceClusterIPRange,
		// Nothing maintains the kubernetes Service's endpoints on loopback.
		"--endpoint-reconciler-type=none",
	}
	if c.EtcdPrefix != "" {
		args = append(args, "--etcd-prefix="+c.EtcdPrefix)
	}
	args = append(args, c.ExtraArgs...)
	proc, err := s.Start(c.Name, c.Binary, args)
	if err != nil {
		return "", err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	return url, WaitServing(ctx, proc, url, "/readyz", c.Certs.CA.CertPEM, c.Certs.AdminCertFile, c.Certs.AdminKeyFile)
}

// ClusterCerts are the certificates of a kube-apiserver: its CA (which is
// also its client CA), its serving certificate for the names in-cluster
// clients use, and a client certificate in system:masters, which is what
// makes its holder an admin under RBAC.
type ClusterCerts struct {
	CA                              *CA
	CAFile, CAKeyFile               string
	ServingCertFile, ServingKeyFile string
	AdminCertFile, AdminKeyFile     string
}

// NewClusterCerts writes a fresh CA called caName, and the certificates it
// signs, into dir: ca.crt and .key, kube-apiserver.crt and .key, admin.crt
// and .key.
func NewClusterCerts(dir, caName string) (*ClusterCerts, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	ca, err := NewCA(caName)
	if err != nil {
		return nil, err
	}
	w := &PEMFiles{Dir: dir}
	c := &ClusterCerts{CA: ca, CAFile: w.Write("ca.crt", ca.CertPEM), CAKeyFile: w.Write("ca.key", ca.KeyPEM)}
	c.ServingCertFile, c.ServingKeyFile = w.Issue(ca, "kube-apiserver", CertSpec{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(127, 1, 0, 1)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	c.AdminCertFile, c.AdminKeyFile = w.Issue(ca, "admin", CertSpec{
		CommonName:    "admin",
		Organizations: []string{"system:masters"},
		Usages:        []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return c, w.Err
}
