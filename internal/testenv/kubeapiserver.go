package testenv

import (
	"context"
	"fmt"
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
	// CA signed ServingCertFile and AdminCertFile (a client certificate
	// in system:masters, for the readiness check) and is the client CA.
	CA                              *CA
	CAFile                          string
	ServingCertFile, ServingKeyFile string
	AdminCertFile, AdminKeyFile     string
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
		"--tls-cert-file=" + c.ServingCertFile,
		"--tls-private-key-file=" + c.ServingKeyFile,
		"--client-ca-file=" + c.CAFile,
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
	client, err := HTTPSClient(c.CA.CertPEM, c.AdminCertFile, c.AdminKeyFile)
	if err != nil {
		return "", err
	}
	err = WaitUntil(ctx, c.Name+" /readyz", proc, func(ctx context.Context) error {
		return GetOK(ctx, client, url+"/readyz")
	})
	return url, err
}
