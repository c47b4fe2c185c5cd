package testenv

import (
	"context"
	"fmt"
	"path/filepath"
)

// serviceAccountIssuer is what a real cluster would use; nothing outside
// the testbed needs to reach it.
const serviceAccountIssuer = "https://kubernetes.default.svc.cluster.local"

// startKubeAPIServer runs the central kube-apiserver: client certificates
// and static tokens for authentication, Node and RBAC authorization, an
// aggregation layer that dials Services' ClusterIPs on loopback, and an
// audit log written with artifacts/central/kube-apiserver/audit-policy.yaml.
func (tb *Testbed) startKubeAPIServer(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	p := tb.pki
	args := []string{
		"--etcd-servers=" + tb.etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--tls-cert-file=" + p.apiserverCertFile,
		"--tls-private-key-file=" + p.apiserverKeyFile,
		"--client-ca-file=" + p.caFile,
		"--token-auth-file=" + p.tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-issuer=" + serviceAccountIssuer,
		"--service-account-key-file=" + p.serviceAccountPubFile,
		"--service-account-signing-key-file=" + p.serviceAccountKeyFile,
		"--service-cluster-ip-range=" + serviceClusterIPRange,
		// The aggregator dials the Service's ClusterIP, which is on loopback,
		// instead of an endpoint address (loopback endpoints are invalid).
		"--enable-aggregator-routing=false",
		// There is no kubernetes Service endpoint to maintain on loopback.
		"--endpoint-reconciler-type=none",
		"--requestheader-client-ca-file=" + p.frontProxyCAFile,
		"--requestheader-allowed-names=" + frontProxyClientName,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.frontProxyClientCertFile,
		"--proxy-client-key-file=" + p.frontProxyClientKeyFile,
		"--audit-policy-file=" + filepath.Join(tb.cfg.RepoRoot, "artifacts", "central", "kube-apiserver", "audit-policy.yaml"),
		"--audit-log-path=" + tb.AuditLogPath(),
	}
	proc, err := tb.launch("kube-apiserver", tb.cfg.Binaries.KubeAPIServer, args)
	if err != nil {
		return err
	}
	tb.serverURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	client, err := httpsClient(p.clusterCA.certPEM, p.adminCertFile, p.adminKeyFile)
	if err != nil {
		return err
	}
	return waitUntil(ctx, "kube-apiserver /readyz", proc, func(ctx context.Context) error {
		return getOK(ctx, client, tb.serverURL+"/readyz")
	})
}
