package testenv

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// BareCluster is an etcd and a kube-apiserver and nothing else, standing
// in for a target cluster in the agent's tests: RBAC authorization, an
// admin client certificate in system:masters, and ServiceAccount keys so
// that TokenRequest works. There is no controller manager, kubelet or
// scheduler: objects are stored and authorized, never acted on (a deleted
// namespace stays Terminating).
type BareCluster struct {
	// AdminConfig authenticates as "admin", a member of system:masters.
	AdminConfig *rest.Config
	// Admin is a client with AdminConfig.
	Admin kubernetes.Interface

	dir      string
	caPEM    []byte
	procs    *Supervisor
	stopOnce sync.Once
	stopErr  error
}

// StartBareCluster runs etcd and kube-apiserver from binDir (see
// UpstreamBinDir), with their data, keys and logs in dir, and returns once
// the kube-apiserver is ready. If that fails, whatever was started is
// stopped.
func StartBareCluster(ctx context.Context, binDir, dir string) (*BareCluster, error) {
	c := &BareCluster{dir: dir}
	if err := c.start(ctx, UpstreamBinaries(binDir)); err != nil {
		if stopErr := c.Stop(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
		return nil, err
	}
	return c, nil
}

func (c *BareCluster) start(ctx context.Context, bins Binaries) error {
	var err error
	if c.procs, err = NewSupervisor(c.LogDir()); err != nil {
		return err
	}
	certs, err := NewClusterCerts(filepath.Join(c.dir, "pki"), "janus-bare-cluster-ca")
	if err != nil {
		return fmt.Errorf("generating certificates: %w", err)
	}
	w := &PEMFiles{Dir: filepath.Join(c.dir, "pki")}
	saKey, saPub := w.ServiceAccountKeys()
	if w.Err != nil {
		return fmt.Errorf("generating service account keys: %w", w.Err)
	}
	c.caPEM = certs.CA.CertPEM

	etcdURL, err := StartEtcd(ctx, c.procs, bins.Etcd, filepath.Join(c.dir, "etcd"))
	if err != nil {
		return err
	}
	host, err := StartKubeAPIServer(ctx, c.procs, KubeAPIServerConfig{
		Name:                  "kube-apiserver",
		Binary:                bins.KubeAPIServer,
		EtcdURL:               etcdURL,
		Certs:                 certs,
		ServiceAccountKeyFile: saKey,
		ServiceAccountPubFile: saPub,
	})
	if err != nil {
		return err
	}
	c.AdminConfig = &rest.Config{
		Host:            host,
		TLSClientConfig: rest.TLSClientConfig{CAData: certs.CA.CertPEM, CertFile: certs.AdminCertFile, KeyFile: certs.AdminKeyFile},
		QPS:             100,
		Burst:           200,
	}
	c.Admin, err = kubernetes.NewForConfig(c.AdminConfig)
	return err
}

// ConfigForToken authenticates with a bearer token, a ServiceAccount's say.
func (c *BareCluster) ConfigForToken(token string) *rest.Config {
	return &rest.Config{
		Host:            c.AdminConfig.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM},
		BearerToken:     token,
		QPS:             100,
		Burst:           200,
	}
}

// Dir holds everything of the cluster.
func (c *BareCluster) Dir() string { return c.dir }

// LogDir holds etcd.log and kube-apiserver.log.
func (c *BareCluster) LogDir() string { return filepath.Join(c.dir, "logs") }

// Stop ends kube-apiserver, then etcd, by PID. It is safe to call more
// than once.
func (c *BareCluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.procs != nil {
			c.stopErr = c.procs.Stop()
		}
	})
	return c.stopErr
}
