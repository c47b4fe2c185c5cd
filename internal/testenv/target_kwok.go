package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const kwokNode = "kwok-node-0"

// kwokExecConfig lets `kubectl exec` into a fake pod run the command as a
// local process, which is what the exec tests drive through Janus.
const kwokExecConfig = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: local
spec:
  execs:
  - local: {}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: demo
spec:
  logs:
  - containers: ["main"]
    logsFile: LOGS_FILE
    follow: true
`

// demoLog is what every demo container "logged", in the CRI log format
// kwok reads.
const demoLog = "2026-11-26T07:00:00.000000000Z stdout F starting payments-api\n2026-11-26T07:00:01.000000000Z stdout F listening on :8080\n"

// startKwok runs kwok as the kubelet of one fake node, serving exec over
// TLS on loopback, and creates the demo pods on it.
func (t *Target) startKwok(ctx context.Context) error {
	client, err := t.Client()
	if err != nil {
		return err
	}
	port, err := FreePort()
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := t.tb.pki.cluster.CA.Issue(CertSpec{
		CommonName: kwokNode,
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	certFile, keyFile, execFile := filepath.Join(t.dir, "kwok.crt"), filepath.Join(t.dir, "kwok.key"), filepath.Join(t.dir, "kwok-exec.yaml")
	logsFile := t.DemoLogFile()
	execConfig := strings.ReplaceAll(kwokExecConfig, "LOGS_FILE", logsFile)
	for path, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM, execFile: []byte(execConfig), logsFile: []byte(demoLog)} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        kwokNode,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		Labels:      map[string]string{"type": "kwok", "kubernetes.io/hostname": kwokNode},
	}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating node %s: %w", kwokNode, err)
	}
	args := []string{
		"--kubeconfig=" + t.AdminKubeconfig(),
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		"--node-ip=127.0.0.1",
		fmt.Sprintf("--node-port=%d", port),
		fmt.Sprintf("--server-address=127.0.0.1:%d", port),
		"--tls-cert-file=" + certFile,
		"--tls-private-key-file=" + keyFile,
		"--config=" + t.tb.cfg.Binaries.KwokStages,
		"--config=" + execFile,
	}
	proc, err := t.tb.procs.Start(t.Name+"-kwok", t.tb.cfg.Binaries.Kwok, args)
	if err != nil {
		return err
	}
	for _, p := range DemoPods {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, Labels: map[string]string{"app": p.Name}},
			Spec: corev1.PodSpec{
				NodeName:                     kwokNode,
				AutomountServiceAccountToken: ptr.To(false),
				Containers:                   []corev1.Container{{Name: "main", Image: "registry.example/demo:1"}},
			},
		}
		if _, err := client.CoreV1().Pods(p.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating pod %s/%s: %w", p.Namespace, p.Name, err)
		}
	}
	return WaitUntil(ctx, "demo pods running on kwok", proc, func(ctx context.Context) error {
		for _, p := range DemoPods {
			pod, err := client.CoreV1().Pods(p.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pod.Status.Phase != corev1.PodRunning {
				return fmt.Errorf("pod %s/%s is %s", p.Namespace, p.Name, pod.Status.Phase)
			}
		}
		return nil
	})
}

// DemoLogFile is the log every kwok container of the target shows; kwok
// follows it, so a line appended to it reaches a following reader.
func (t *Target) DemoLogFile() string { return filepath.Join(t.dir, "demo-container.log") }
