package testenv

import (
	"context"
	"fmt"
	"path/filepath"
)

// startControllerManager runs kube-controller-manager with the controllers
// a cluster without nodes can use: ServiceAccounts and their root CA,
// namespace deletion, garbage collection. Each controller acts with its
// own ServiceAccount's credentials, as in real clusters.
func (tb *Testbed) startControllerManager(ctx context.Context) error {
	port, err := FreePort()
	if err != nil {
		return err
	}
	p := tb.pki
	kubeconfig := filepath.Join(p.dir, "kube-controller-manager.kubeconfig")
	if err := writeKubeconfig(kubeconfig, tb.serverURL, p.cluster.CA.CertPEM, "system:kube-controller-manager", clientCertAuth(p.controllerManagerCertFile, p.controllerManagerKeyFile)); err != nil {
		return err
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + p.controllerManagerServingCertFile,
		"--tls-private-key-file=" + p.controllerManagerServingKeyFile,
		// No kubelets: node IPAM and node lifecycle have nothing to manage.
		"--controllers=*,-nodeipam,-nodelifecycle",
		"--service-account-private-key-file=" + p.serviceAccountKeyFile,
		"--root-ca-file=" + p.cluster.CAFile,
		"--use-service-account-credentials=true",
		"--cluster-signing-cert-file=" + p.cluster.CAFile,
		"--cluster-signing-key-file=" + p.cluster.CAKeyFile,
		// One instance: no need to wait for a lease.
		"--leader-elect=false",
	}
	proc, err := tb.procs.Start("kube-controller-manager", tb.cfg.Binaries.KubeControllerManager, args)
	if err != nil {
		return err
	}
	return WaitServing(ctx, proc, fmt.Sprintf("https://127.0.0.1:%d", port), "/healthz", p.cluster.CA.CertPEM, "", "")
}
