package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/test/integration/framework"
)

// tlsEtcd is a real etcd member serving its client port over TLS and
// asking clients for a certificate of its CA.
type tlsEtcd struct {
	address                       string
	caFile                        string
	clientCertFile, clientKeyFile string
	client                        *clientv3.Client
}

func startTLSEtcd(t *testing.T) *tlsEtcd {
	t.Helper()
	dir := t.TempDir()
	ca, err := testenv.NewCA("janus-test-etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	files := &testenv.PEMFiles{Dir: dir}
	e := &tlsEtcd{caFile: files.Write("etcd-ca.crt", ca.CertPEM)}
	serverCert, serverKey := files.Issue(ca, "etcd-server", testenv.CertSpec{
		CommonName: "etcd", IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	e.clientCertFile, e.clientKeyFile = files.Issue(ca, "janus-etcd-client", testenv.CertSpec{
		CommonName: "janus-apiserver", Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if files.Err != nil {
		t.Fatal(files.Err)
	}

	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	clientURL, peerURL := freeURL(t, "https"), freeURL(t, "http")
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = fmt.Sprintf("%s=%s", cfg.Name, peerURL.String())
	cfg.ClientTLSInfo.CertFile, cfg.ClientTLSInfo.KeyFile = serverCert, serverKey
	cfg.ClientTLSInfo.TrustedCAFile = e.caFile
	cfg.ClientTLSInfo.ClientCertAuth = true
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("starting etcd with TLS: %v", err)
	}
	t.Cleanup(etcd.Close)
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		t.Fatal("etcd did not become ready within 30s")
	}
	e.address = clientURL.Host

	pair, err := tls.LoadX509KeyPair(e.clientCertFile, e.clientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	e.client, err = clientv3.New(clientv3.Config{
		Endpoints: []string{"https://" + e.address}, DialTimeout: 5 * time.Second,
		TLS: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.client.Close() })
	return e
}

func freeURL(t *testing.T, scheme string) url.URL {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: scheme, Host: l.Addr().String()}
}

// TestAccessRequestsAreStoredInEtcdOverTLS: with an https:// datastore
// endpoint and the etcd CA and client certificate, janus-apiserver writes
// an AccessRequest into etcd and reads it back; etcd itself holds it.
func TestAccessRequestsAreStoredInEtcdOverTLS(t *testing.T) {
	etcd := startTLSEtcd(t)
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) {
		o.Datastore.Endpoint = "https://" + etcd.address
		o.Datastore.EtcdTLS.CAFile = etcd.caFile
		o.Datastore.EtcdTLS.CertFile, o.Datastore.EtcdTLS.KeyFile = etcd.clientCertFile, etcd.clientKeyFile
	})
	created, err := e.alice.JanusV1alpha1().AccessRequests().Create(ctx(t), request("dev", time.Hour, "payments"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating an AccessRequest: %v", err)
	}
	got, err := e.alice.JanusV1alpha1().AccessRequests().Get(ctx(t), created.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading it back: %v", err)
	}
	if got.UID != created.UID || got.Spec.Requester.Username != "alice" {
		t.Errorf("read back %s uid %s by %q, want uid %s by alice", got.Name, got.UID, got.Spec.Requester.Username, created.UID)
	}
	resp, err := etcd.client.Get(ctx(t), "/registry/janus.infroware.io/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range resp.Kvs {
		keys = append(keys, string(kv.Key))
	}
	if !strings.Contains(strings.Join(keys, "\n"), "/"+created.Name) {
		t.Errorf("etcd holds %q, not the AccessRequest %s", keys, created.Name)
	}
}

// TestEtcdWithTheWrongCAStopsTheStart: a CA that did not sign etcd's
// certificate stops janus-apiserver with the reason and the file, instead
// of a server that never becomes ready.
func TestEtcdWithTheWrongCAStopsTheStart(t *testing.T) {
	etcd := startTLSEtcd(t)
	other, err := testenv.NewCA("not-the-etcd-ca")
	if err != nil {
		t.Fatal(err)
	}
	files := &testenv.PEMFiles{Dir: t.TempDir()}
	wrongCA := files.Write("wrong-ca.crt", other.CertPEM)
	if files.Err != nil {
		t.Fatal(files.Err)
	}
	o := server.NewJanusServerOptions(io.Discard, io.Discard)
	o.Datastore.Endpoint = "https://" + etcd.address
	o.Datastore.EtcdTLS.CAFile = wrongCA
	o.Datastore.EtcdTLS.CertFile, o.Datastore.EtcdTLS.KeyFile = etcd.clientCertFile, etcd.clientKeyFile
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = o.Config(ctx)
	if err == nil {
		t.Fatal("janus-apiserver configured itself on etcd under the wrong CA")
	}
	for _, want := range []string{"etcd member " + etcd.address, "--datastore-etcd-ca-file " + wrongCA, "unknown authority"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error %q does not say %q", err, want)
		}
	}
}
