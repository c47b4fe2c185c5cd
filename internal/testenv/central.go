package testenv

import (
	"context"
	"path/filepath"
)

// startEtcd runs the testbed's etcd, which the central kube-apiserver and
// the targets' share under their own prefixes.
func (tb *Testbed) startEtcd(ctx context.Context) (err error) {
	tb.etcdURL, err = StartEtcd(ctx, tb.procs, tb.cfg.Binaries.Etcd, filepath.Join(tb.cfg.WorkDir, "etcd"))
	return err
}

// startKubeAPIServer runs the central kube-apiserver: client certificates,
// static tokens and (once trusted) OpenID issuers for authentication, Node and RBAC authorization, an
// aggregation layer that dials Services' ClusterIPs on loopback, and an
// audit log written with artifacts/central/kube-apiserver/audit-policy.yaml.
func (tb *Testbed) startKubeAPIServer(ctx context.Context) (err error) {
	p := tb.pki
	if err := tb.writeAuthnConfig(nil); err != nil {
		return err
	}
	tb.serverURL, err = StartKubeAPIServer(ctx, tb.procs, KubeAPIServerConfig{
		Name:                  "kube-apiserver",
		Binary:                tb.cfg.Binaries.KubeAPIServer,
		EtcdURL:               tb.etcdURL,
		Certs:                 p.cluster,
		ServiceAccountKeyFile: p.serviceAccountKeyFile,
		ServiceAccountPubFile: p.serviceAccountPubFile,
		ServiceClusterIPRange: serviceClusterIPRange,
		ExtraArgs: []string{
			"--token-auth-file=" + p.tokenFile,
			// No OpenID issuer at first; TrustIssuer adds them while it
			// runs.
			"--authentication-config=" + tb.authnConfigPath(),
			// The aggregator dials the Service's ClusterIP, which is on
			// loopback, instead of an endpoint address (loopback endpoints
			// are invalid).
			"--enable-aggregator-routing=false",
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
		},
	})
	return err
}
