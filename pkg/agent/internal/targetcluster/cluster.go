package targetcluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

const (
	// ServiceAccountIssuer is what a real cluster would use.
	ServiceAccountIssuer = "https://kubernetes.default.svc.cluster.local"
	// readyTimeout is generous: with go test ./... building other packages
	// on two cores, a kube-apiserver can take half a minute.
	readyTimeout = 2 * time.Minute
	logTailLines = 30
)

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	// AdminConfig authenticates as "admin", a member of system:masters.
	AdminConfig *rest.Config
	// Admin is a client with AdminConfig.
	Admin kubernetes.Interface

	dir      string
	caPEM    []byte
	host     string
	procs    []*process
	stopOnce sync.Once
	stopErr  error
}

// BinDir runs hack/testbin.sh of the repository at repoRoot, which builds
// the upstream binaries once and caches them, and returns their directory.
func BinDir(ctx context.Context, repoRoot string) (string, error) {
	repoRoot, err := filepath.Abs(repoRoot)
	if err != nil {
		return "", err
	}
	script := filepath.Join(repoRoot, "hack", "testbin.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Dir = repoRoot
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s (a cold build of kube-apiserver and etcd takes about 10 minutes): %w\n%s", script, err, stderr.String())
	}
	var last string
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			last = line
		}
	}
	if last == "" {
		return "", fmt.Errorf("%s printed no binary directory", script)
	}
	return last, nil
}

// Start runs etcd and kube-apiserver from binDir, with their data, keys
// and logs in dir (which must exist), and returns once the kube-apiserver
// is ready. If that fails, whatever was started is stopped.
func Start(ctx context.Context, binDir, dir string) (*Cluster, error) {
	c := &Cluster{dir: dir}
	if err := c.start(ctx, binDir); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, binDir string) error {
	pkiDir := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(c.LogDir(), 0o755); err != nil {
		return err
	}
	p, err := newPKI(pkiDir)
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	c.caPEM = p.caPEM

	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	etcd, err := c.launch("etcd", filepath.Join(binDir, "etcd"), []string{
		"--name=target",
		"--data-dir=" + filepath.Join(c.dir, "etcd"),
		"--listen-client-urls=" + etcdURL,
		"--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL,
		"--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=target=" + peerURL,
		"--log-level=warn",
		// Test data is thrown away; fsync would only slow it down.
		"--unsafe-no-fsync",
	})
	if err != nil {
		return err
	}

	c.host = fmt.Sprintf("https://127.0.0.1:%d", ports[2])
	apiserver, err := c.launch("kube-apiserver", filepath.Join(binDir, "kube-apiserver"), []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", ports[2]),
		"--cert-dir=" + filepath.Join(c.dir, "cert"),
		"--tls-cert-file=" + p.servingCertFile,
		"--tls-private-key-file=" + p.servingKeyFile,
		"--client-ca-file=" + p.caFile,
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + p.serviceAccountKeyFile,
		"--service-account-signing-key-file=" + p.serviceAccountKeyFile,
		"--service-cluster-ip-range=10.0.0.0/24",
		// Nothing maintains the kubernetes Service's endpoints on loopback.
		"--endpoint-reconciler-type=none",
	})
	if err != nil {
		return err
	}

	c.AdminConfig = &rest.Config{
		Host: c.host,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   p.caPEM,
			CertData: p.adminCertPEM,
			KeyData:  p.adminKeyPEM,
		},
		QPS:   100,
		Burst: 200,
	}
	if c.Admin, err = kubernetes.NewForConfig(c.AdminConfig); err != nil {
		return err
	}
	return waitReady(ctx, []*process{etcd, apiserver}, func(ctx context.Context) error {
		_, err := c.Admin.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		return err
	})
}

// ConfigForToken authenticates with a bearer token, a ServiceAccount's say.
func (c *Cluster) ConfigForToken(token string) *rest.Config {
	return &rest.Config{
		Host:            c.host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM},
		BearerToken:     token,
		QPS:             100,
		Burst:           200,
	}
}

// Dir holds everything of the cluster.
func (c *Cluster) Dir() string { return c.dir }

// LogDir holds etcd.log and kube-apiserver.log.
func (c *Cluster) LogDir() string { return filepath.Join(c.dir, "logs") }

// Stop ends kube-apiserver, then etcd, by PID. It is safe to call more
// than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for i := len(c.procs) - 1; i >= 0; i-- {
			errs = append(errs, c.procs[i].stop())
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

func (c *Cluster) launch(name, binary string, args []string) (*process, error) {
	p, err := startProcess(name, c.LogDir(), binary, args)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// waitReady polls check until it succeeds, a process exits, or
// readyTimeout passes; errors end with the log of the last process.
func waitReady(ctx context.Context, procs []*process, check func(context.Context) error) error {
	var last, exited error
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, readyTimeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range procs {
			if p.hasExited() {
				exited = fmt.Errorf("%s exited before the cluster was ready (%v)\n--- end of %s ---\n%s",
					p.name, p.exitErr, p.logPath, p.logTail(logTailLines))
				return false, exited
			}
		}
		last = check(ctx)
		return last == nil, nil
	})
	switch {
	case err == nil:
		return nil
	case exited != nil:
		return exited
	}
	p := procs[len(procs)-1]
	return fmt.Errorf("waiting for kube-apiserver /readyz: %w (last: %v)\n--- end of %s ---\n%s", err, last, p.logPath, p.logTail(logTailLines))
}

// freePorts returns n distinct TCP ports on 127.0.0.1 that nothing listens
// on right now.
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
