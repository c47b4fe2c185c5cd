package framework

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// User is an identity the aggregator vouches for with front-proxy headers.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// Server is a janus-apiserver running in the test process.
type Server struct {
	URL     string
	Backend Backend

	servingCA []byte
	proxy     *testenv.FrontProxy
}

// Option changes the server's options before it starts.
type Option func(*server.JanusServerOptions)

// StartServer runs janus-apiserver on backend until the test ends. authz
// decides every request; build it with NewRuleAuthorizer.
func StartServer(t testing.TB, backend Backend, authz authorizer.Authorizer, opts ...Option) *Server {
	t.Helper()
	certDir := t.TempDir()
	proxy, err := testenv.NewFrontProxy(certDir)
	if err != nil {
		t.Fatalf("generating front-proxy certificates: %v", err)
	}
	servingCA, err := testenv.NewCA("janus-test-serving-ca")
	if err != nil {
		t.Fatalf("generating serving CA: %v", err)
	}
	files := &testenv.PEMFiles{Dir: certDir}
	certFile, keyFile := files.Issue(servingCA, "serving", testenv.CertSpec{
		CommonName: "127.0.0.1",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if files.Err != nil {
		t.Fatalf("generating serving certificate: %v", files.Err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listening: %v", err)
	}

	o := server.NewJanusServerOptions(io.Discard, io.Discard)
	ro := o.RecommendedOptions
	ro.SecureServing.Listener = listener
	ro.SecureServing.ServerCert.CertKey.CertFile = certFile
	ro.SecureServing.ServerCert.CertKey.KeyFile = keyFile
	ro.Authentication.RemoteKubeConfigFileOptional = true
	ro.Authentication.SkipInClusterLookup = true
	ro.Authentication.RequestHeader.ClientCAFile = proxy.CAFile
	ro.Authentication.RequestHeader.UsernameHeaders = []string{"X-Remote-User"}
	ro.Authentication.RequestHeader.UIDHeaders = []string{"X-Remote-Uid"}
	ro.Authentication.RequestHeader.GroupHeaders = []string{"X-Remote-Group"}
	ro.Authentication.RequestHeader.ExtraHeaderPrefixes = []string{"X-Remote-Extra-"}
	ro.Authentication.RequestHeader.AllowedNames = []string{proxy.ClientName}
	ro.Authorization.RemoteKubeConfigFileOptional = true
	// Without a kube-apiserver there are no core informers: no webhook
	// admission and no priority-and-fairness, which the e2e tests cover.
	ro.CoreAPI = nil
	ro.Admission = nil
	ro.Features.EnablePriorityAndFairness = false

	switch backend {
	case SQLite:
		o.Datastore.DataDir = t.TempDir()
	case Postgres:
		o.Datastore.Endpoint = newPostgresDatabase(t)
	case Etcd:
		o.Datastore.Endpoint = "etcd://" + startEmbeddedEtcd(t)
	default:
		t.Fatalf("unknown backend %q", backend)
	}
	for _, opt := range opts {
		opt(o)
	}

	// As in JanusServerOptions.Run, the embedded datastore outlives the
	// server's graceful shutdown: requests still draining (a controller's
	// status update) must reach storage, not a vanished socket.
	ctx, cancel := context.WithCancel(context.Background())
	storeCtx, stopStore := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(30 * time.Second):
			t.Errorf("janus-apiserver did not stop within 30s")
		}
		stopStore()
	})
	if err := o.Complete(); err != nil {
		close(stopped)
		t.Fatalf("completing options: %v", err)
	}
	if err := o.Validate(); err != nil {
		close(stopped)
		t.Fatalf("validating options: %v", err)
	}
	cfg, err := o.Config(storeCtx)
	if err != nil {
		close(stopped)
		t.Fatalf("configuring janus-apiserver: %v", err)
	}
	cfg.GenericConfig.Authorization.Authorizer = authz
	srv, err := cfg.Complete().New()
	if err != nil {
		close(stopped)
		t.Fatalf("building janus-apiserver: %v", err)
	}
	go func() {
		defer close(stopped)
		if err := srv.GenericAPIServer.PrepareRun().RunWithContext(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Logf("janus-apiserver stopped: %v", err)
		}
	}()

	s := &Server{URL: "https://" + listener.Addr().String(), Backend: backend, servingCA: servingCA.CertPEM, proxy: proxy}
	s.waitReady(t)
	return s
}

func (s *Server) waitReady(t testing.TB) {
	t.Helper()
	client, err := rest.HTTPClientFor(s.Config(User{Name: "readiness", Groups: []string{"system:masters"}}))
	if err != nil {
		t.Fatal(err)
	}
	var last string
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		resp, err := client.Get(s.URL + "/readyz")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = string(body)
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		t.Fatalf("janus-apiserver on %s did not become ready: %s", s.Backend, last)
	}
}

// Config is a client configuration that reaches the server the way the
// aggregator does: with the front-proxy client certificate and the user's
// identity in request headers.
func (s *Server) Config(u User) *rest.Config {
	return &rest.Config{
		Host: s.URL,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   s.servingCA,
			CertFile: s.proxy.CertFile,
			KeyFile:  s.proxy.KeyFile,
		},
		QPS:   -1,
		Burst: -1,
		WrapTransport: func(rt http.RoundTripper) http.RoundTripper {
			return identityHeaders{user: u, next: rt}
		},
	}
}

// Client is the typed Janus client acting as u.
func (s *Server) Client(t testing.TB, u User) versioned.Interface {
	t.Helper()
	c, err := versioned.NewForConfig(s.Config(u))
	if err != nil {
		t.Fatalf("building client for %s: %v", u.Name, err)
	}
	return c
}

type identityHeaders struct {
	user User
	next http.RoundTripper
}

func (h identityHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("X-Remote-User", h.user.Name)
	if h.user.UID != "" {
		req.Header.Set("X-Remote-Uid", h.user.UID)
	}
	for _, g := range h.user.Groups {
		req.Header.Add("X-Remote-Group", g)
	}
	for k, vs := range h.user.Extra {
		for _, v := range vs {
			req.Header.Add("X-Remote-Extra-"+k, v)
		}
	}
	return h.next.RoundTrip(req)
}

// Bindings maps user names to the ClusterRoles (by name) and extra rules
// they hold.
type Bindings map[string]struct {
	Roles []string
	Rules []rbacv1.PolicyRule
}

// AuthorizerFromArtifacts builds a RuleAuthorizer from the ClusterRoles that
// ship in artifacts/central/clusterroles.yaml.
func AuthorizerFromArtifacts(t testing.TB, bindings Bindings) authorizer.Authorizer {
	t.Helper()
	roles, err := LoadClusterRoles("artifacts/central/clusterroles.yaml", "artifacts/examples/approver-for-dev.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]rbacv1.PolicyRule{}
	for user, b := range bindings {
		for _, name := range b.Roles {
			role, ok := roles[name]
			if !ok {
				t.Fatalf("ClusterRole %q is not in artifacts", name)
			}
			rules[user] = append(rules[user], role.Rules...)
		}
		rules[user] = append(rules[user], b.Rules...)
	}
	return NewRuleAuthorizer(rules)
}

// String names the server for test output.
func (s *Server) String() string { return fmt.Sprintf("janus-apiserver(%s at %s)", s.Backend, s.URL) }

// ServingCA is the CA of the server's serving certificate.
func (s *Server) ServingCA() []byte { return s.servingCA }

// Metric reads one sample of the server's /metrics, as admin, e.g.
// `janus_tunnel_refused_connections_total{reason="no_token"}`; 0 if absent.
func (s *Server) Metric(t testing.TB, series string) float64 {
	t.Helper()
	client, err := rest.HTTPClientFor(s.Config(User{Name: "metrics", Groups: []string{"system:masters"}}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatalf("reading metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				t.Fatalf("parsing metric %s: %v", line, err)
			}
			return v
		}
	}
	return 0
}
