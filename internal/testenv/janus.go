package testenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// janusTokenLifetime outlasts any test run and a playground left up for a
// week; a real deployment uses the projected, auto-rotated token instead.
const janusTokenLifetime = 7 * 24 * time.Hour

// startJanus runs janus-apiserver on the Service's ClusterIP, as the
// janus-apiserver ServiceAccount: authentication and authorization of
// every request are delegated to the kube-apiserver (TokenReview,
// SubjectAccessReview), so RBAC decides.
func (tb *Testbed) startJanus(ctx context.Context, extraArgs ...string) error {
	if tb.cfg.SecondReplica {
		return tb.startReplicas(ctx, extraArgs...)
	}
	kubeconfig, err := tb.writeJanusKubeconfig(ctx)
	if err != nil {
		return err
	}
	p := tb.pki
	args := tb.janusArgs(tb.janusIP, kubeconfig, filepath.Join(tb.cfg.WorkDir, "janus-data"), tb.JanusAuditLogPath())
	if tb.cfg.SelfManagedTLS {
		args = append(args, selfManagedArgs()...)
	} else {
		args = append(args, "--tls-cert-file="+p.janusCertFile, "--tls-private-key-file="+p.janusKeyFile)
	}
	args = append(args, tb.cfg.JanusArgs...)
	args = append(args, extraArgs...)
	proc, err := tb.runJanus(args)
	if err != nil {
		return err
	}
	if tb.cfg.SelfManagedTLS {
		return tb.waitSelfManagedServing(ctx, proc)
	}
	return WaitServing(ctx, proc, "https://"+tb.JanusAddress(), "/readyz", p.janusCA.CertPEM, "", "")
}

// janusArgs are the flags every janus-apiserver of the testbed gets: it
// listens on ip, keeps its files in dataDir and its audit log at auditLog.
func (tb *Testbed) janusArgs(ip net.IP, kubeconfig, dataDir, auditLog string) []string {
	p := tb.pki
	return []string{
		"--bind-address=" + ip.String(),
		fmt.Sprintf("--secure-port=%d", janusServicePort),
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--data-dir=" + dataDir,
		"--audit-policy-file=" + filepath.Join(tb.cfg.RepoRoot, "artifacts", "central", "kube-apiserver", "audit-policy.yaml"),
		"--audit-log-path=" + auditLog,
		// No kubelet rotates the agents' token files here: they are
		// minted once, for agentTokenLifetime.
		"--agent-token-max-lifetime=" + agentTokenLifetime.String(),
		// Agents connect to a tunnel port of its own, under its own
		// certificate; /connect stays on the API port too (the default),
		// where tests try handshakes against it.
		"--tunnel-bind-address=" + ip.String(),
		fmt.Sprintf("--tunnel-port=%d", janusTunnelPort),
		"--tunnel-cert-file=" + p.tunnelCertFile,
		"--tunnel-private-key-file=" + p.tunnelKeyFile,
	}
}

// runJanus starts janus-apiserver with args: the binary, or what
// TestbedConfig.JanusCommand makes of them.
func (tb *Testbed) runJanus(args []string) (*Process, error) {
	if tb.cfg.JanusCommand == nil {
		return tb.procs.Start("janus-apiserver", tb.cfg.Binaries.JanusAPIServer, args)
	}
	cmd, err := tb.cfg.JanusCommand(args)
	if err != nil {
		return nil, fmt.Errorf("preparing janus-apiserver's command: %w", err)
	}
	return tb.procs.StartCommand("janus-apiserver", cmd)
}

// janusTunnelPort is where janus-apiserver serves the agents' tunnel, on
// the Service's ClusterIP next to the API port.
const janusTunnelPort = 8132

// tunnelCAFileName holds the CA of the tunnel port's certificate.
const tunnelCAFileName = "janus-tunnel-ca.crt"

// TunnelAddress is where janus-apiserver serves the agents' tunnel:
// host:port. With a second replica it is replica B's, so that every agent
// is connected to B.
func (tb *Testbed) TunnelAddress() string {
	ip := tb.janusIP
	if len(tb.replicas) > 1 {
		ip = tb.replicas[1].ip
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(janusTunnelPort))
}

// TunnelCAFile is the CA of the tunnel port's certificate, which agents
// trust with --janus-ca-file.
func (tb *Testbed) TunnelCAFile() string {
	return filepath.Join(tb.pki.dir, tunnelCAFileName)
}

// writeJanusKubeconfig mints a token for the janus-apiserver ServiceAccount
// with TokenRequest and writes a kubeconfig holding it.
func (tb *Testbed) writeJanusKubeconfig(ctx context.Context) (string, error) {
	cs, err := kubernetes.NewForConfig(tb.bootstrapConfig())
	if err != nil {
		return "", fmt.Errorf("building client: %w", err)
	}
	tr, err := cs.CoreV1().ServiceAccounts(janusNamespace).CreateToken(ctx, janusServiceAccount, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(janusTokenLifetime / time.Second))},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/%s: %w", janusNamespace, janusServiceAccount, err)
	}
	path := filepath.Join(tb.pki.dir, "janus-apiserver.kubeconfig")
	user := "system:serviceaccount:" + janusNamespace + ":" + janusServiceAccount
	if err := writeKubeconfig(path, tb.serverURL, tb.pki.cluster.CA.CertPEM, user, &clientcmdapi.AuthInfo{Token: tr.Status.Token}); err != nil {
		return "", err
	}
	return path, nil
}
