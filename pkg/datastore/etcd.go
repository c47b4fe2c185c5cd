package datastore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/klog/v2"
)

// An external etcd is named etcd://host:port,... (plaintext, kept for the
// deployments that already use it: an etcd on loopback or in the same pod)
// or https://host:port,... with the --datastore-etcd-* files, as k3s's
// --datastore-endpoint and --datastore-cafile do.
const (
	etcdPlaintextScheme = "etcd://"
	etcdTLSScheme       = "https://"
)

// EtcdTLS are the files an https:// etcd is reached with.
type EtcdTLS struct {
	// CAFile verifies the members' serving certificates; empty for the
	// system's roots.
	CAFile string
	// CertFile and KeyFile are Janus's client certificate, for an etcd
	// with --client-cert-auth.
	CertFile string
	KeyFile  string
}

func (t *EtcdTLS) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&t.CAFile, "datastore-etcd-ca-file", t.CAFile, "CA bundle (PEM) verifying the serving certificates of an https:// --datastore-endpoint's etcd members; empty for the system's roots.")
	fs.StringVar(&t.CertFile, "datastore-etcd-cert-file", t.CertFile, "Client certificate (PEM) janus-apiserver presents to an https:// --datastore-endpoint's etcd.")
	fs.StringVar(&t.KeyFile, "datastore-etcd-key-file", t.KeyFile, "Private key (PEM) of --datastore-etcd-cert-file.")
}

func (t *EtcdTLS) isSet() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// etcdMembers are the host:port of each member the endpoint names, and
// whether it is to be reached over TLS. Members may repeat the scheme
// (https://a:2379,https://b:2379) or not (https://a:2379,b:2379).
func etcdMembers(endpoint string) (members []string, secure bool) {
	scheme := etcdPlaintextScheme
	if strings.HasPrefix(endpoint, etcdTLSScheme) {
		scheme, secure = etcdTLSScheme, true
	}
	for _, m := range strings.Split(strings.TrimPrefix(endpoint, scheme), ",") {
		members = append(members, strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(m), scheme), "/"))
	}
	return members, secure
}

func (o *Options) validateEtcd() []error {
	var errs []error
	members, secure := etcdMembers(o.endpoint())
	for _, hp := range members {
		if _, port, err := net.SplitHostPort(hp); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("--datastore-endpoint: etcd member %q needs host:port", hp))
		}
	}
	if (o.EtcdTLS.CertFile == "") != (o.EtcdTLS.KeyFile == "") {
		errs = append(errs, errors.New("--datastore-etcd-cert-file and --datastore-etcd-key-file go together"))
	}
	if !secure && o.EtcdTLS.isSet() {
		errs = append(errs, errors.New("--datastore-etcd-ca-file, --datastore-etcd-cert-file and --datastore-etcd-key-file need an https:// --datastore-endpoint; etcd:// is plaintext"))
	}
	return errs
}

// startEtcd returns the server list of an external etcd. Over TLS it first
// verifies each reachable member's certificate, so that a wrong CA stops
// the start with the reason instead of leaving a server that never gets
// ready; a member not answering yet is only logged, as etcd may still be
// starting.
func (o *Options) startEtcd(ctx context.Context) ([]string, error) {
	members, secure := etcdMembers(o.endpoint())
	if !secure {
		klog.InfoS("Warning: the etcd:// datastore endpoint is plaintext: objects and the agents' grants cross the network unencrypted and unauthenticated; use https:// with --datastore-etcd-ca-file, --datastore-etcd-cert-file and --datastore-etcd-key-file", "members", len(members))
		servers := make([]string, 0, len(members))
		for _, hp := range members {
			servers = append(servers, "http://"+hp)
		}
		return servers, nil
	}
	tlsConfig, err := o.EtcdTLS.clientConfig()
	if err != nil {
		return nil, err
	}
	servers := make([]string, 0, len(members))
	for _, hp := range members {
		if err := verifyEtcdMember(ctx, hp, tlsConfig, o.EtcdTLS.CAFile); err != nil {
			return nil, err
		}
		servers = append(servers, etcdTLSScheme+hp)
	}
	klog.InfoS("Using external etcd over TLS", "members", len(servers), "clientCertificate", o.EtcdTLS.CertFile != "")
	return servers, nil
}

// clientConfig reads the files; its errors name them, never their content.
func (t *EtcdTLS) clientConfig() (*tls.Config, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		data, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --datastore-etcd-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("--datastore-etcd-ca-file %s holds no PEM certificate", t.CAFile)
		}
		config.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --datastore-etcd-cert-file %s and --datastore-etcd-key-file %s: %w", t.CertFile, t.KeyFile, err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return config, nil
}

// etcdCheckTimeout bounds the certificate check of one member.
const etcdCheckTimeout = 5 * time.Second

func verifyEtcdMember(ctx context.Context, hostPort string, base *tls.Config, caFile string) error {
	host, _, _ := net.SplitHostPort(hostPort)
	config := base.Clone()
	config.ServerName = host
	dialCtx, cancel := context.WithTimeout(ctx, etcdCheckTimeout)
	defer cancel()
	conn, err := (&tls.Dialer{Config: config}).DialContext(dialCtx, "tcp", hostPort)
	if err == nil {
		return conn.Close()
	}
	var verification *tls.CertificateVerificationError
	if errors.As(err, &verification) {
		trusted := "the system's roots"
		if caFile != "" {
			trusted = "--datastore-etcd-ca-file " + caFile
		}
		return fmt.Errorf("verifying the certificate of etcd member %s against %s: %w", hostPort, trusted, verification.Err)
	}
	klog.InfoS("Warning: etcd member not reachable yet; janus-apiserver retries", "member", hostPort, "err", err)
	return nil
}

// ApplyTo puts the TLS files into the storage transport of the API server,
// which dials etcd with them.
func (o *Options) ApplyTo(transport *storagebackend.TransportConfig) {
	if o.Kind() != Etcd {
		return
	}
	if _, secure := etcdMembers(o.endpoint()); !secure {
		return
	}
	transport.TrustedCAFile = o.EtcdTLS.CAFile
	transport.CertFile = o.EtcdTLS.CertFile
	transport.KeyFile = o.EtcdTLS.KeyFile
}
