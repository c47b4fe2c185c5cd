package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	janusv1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/tunnel"
)

// TargetSpec asks for one target cluster.
type TargetSpec struct {
	// Name is the Cluster the target registers as.
	Name string
	// AgentExcludedNamespaces are added to the agent's own exclusions, so
	// tests can show the agent refusing what Janus allowed.
	AgentExcludedNamespaces []string
}

// DemoPods run, as kwok fakes, in every target cluster.
var DemoPods = []struct{ Namespace, Name string }{
	{"payments", "payments-api-0"},
	{"payments", "payments-worker-0"},
	{"default", "web-0"},
	{"restricted", "vault-0"},
}

// Target is a target cluster: its own kube-apiserver (on the testbed's
// etcd, under its own prefix, with its own ServiceAccount issuer), a kwok
// node with demo pods, and a janus-agent connected to janus-apiserver.
type Target struct {
	Name string
	// URL is the target's kube-apiserver.
	URL string

	tb        *Testbed
	spec      TargetSpec
	dir       string
	issuer    string
	tokenFile string
	agentKube string
	agent     *Process
	// agentProfiling is where the agent serves pprof.
	agentProfiling string
	// agentHealth is where the agent serves /healthz, /readyz and /metrics.
	agentHealth string
}

const agentNamespace = "janus"

// StartTarget brings up a target cluster and its agent, registers its
// issuer in the Cluster spec.Name (created if missing) and waits until the
// agent is connected.
// agentTokenLifetime is how long an agent's identity token lives: a
// playground runs for a day on one.
const agentTokenLifetime = 24 * time.Hour

func (tb *Testbed) StartTarget(ctx context.Context, spec TargetSpec) (*Target, error) {
	t := &Target{Name: spec.Name, tb: tb, spec: spec, dir: filepath.Join(tb.cfg.WorkDir, "targets", spec.Name),
		issuer: "https://" + spec.Name + ".clusters.janus.test"}
	steps := []struct {
		name string
		run  func() error
	}{
		{"kube-apiserver", func() error { return t.startKubeAPIServer(ctx) }},
		{"objects", func() error { return t.createObjects(ctx) }},
		{"kwok", func() error { return t.startKwok(ctx) }},
		{"registration", func() error { return t.register(ctx) }},
		{"agent", func() error { return t.StartAgent(ctx) }},
	}
	for _, s := range steps {
		if err := tb.step(spec.Name+" "+s.name, s.run); err != nil {
			return nil, fmt.Errorf("starting target cluster %s (%s): %w", spec.Name, s.name, err)
		}
	}
	return t, nil
}

// startKubeAPIServer runs the target's kube-apiserver on the testbed's
// etcd, under a prefix of its own, with its own ServiceAccount issuer and
// keys.
func (t *Target) startKubeAPIServer(ctx context.Context) error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	w := &PEMFiles{Dir: t.dir}
	saKey, saPub := w.ServiceAccountKeys()
	if w.Err != nil {
		return w.Err
	}
	p := t.tb.pki
	var err error
	t.URL, err = StartKubeAPIServer(ctx, t.tb.procs, KubeAPIServerConfig{
		Name:                  t.Name + "-kube-apiserver",
		Binary:                t.tb.cfg.Binaries.KubeAPIServer,
		EtcdURL:               t.tb.etcdURL,
		EtcdPrefix:            "/targets/" + t.Name,
		Certs:                 p.cluster,
		ServiceAccountIssuer:  t.issuer,
		ServiceAccountKeyFile: saKey,
		ServiceAccountPubFile: saPub,
	})
	if err != nil {
		return err
	}
	return writeKubeconfig(t.AdminKubeconfig(), t.URL, p.cluster.CA.CertPEM, "admin", clientCertAuth(p.cluster.AdminCertFile, p.cluster.AdminKeyFile))
}

// AdminKubeconfig is a cluster-admin kubeconfig for the target.
func (t *Target) AdminKubeconfig() string {
	return filepath.Join(t.tb.cfg.WorkDir, t.Name+"-admin.kubeconfig")
}

// AdminConfig is a cluster-admin client configuration for the target.
func (t *Target) AdminConfig() *rest.Config {
	p := t.tb.pki
	return &rest.Config{
		Host:            t.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.cluster.CA.CertPEM, CertFile: p.cluster.AdminCertFile, KeyFile: p.cluster.AdminKeyFile},
		QPS:             -1,
		WarningHandler:  rest.NoWarnings{},
	}
}

// Client is a cluster-admin client of the target.
func (t *Target) Client() (kubernetes.Interface, error) {
	return kubernetes.NewForConfig(t.AdminConfig())
}

// createObjects applies the agent's manifests (not its Deployment: the
// testbed runs the agent as a process) and the demo namespaces.
func (t *Target) createObjects(ctx context.Context) error {
	files, err := manifestFiles(filepath.Join(t.tb.cfg.RepoRoot, "artifacts", "agent"))
	if err != nil {
		return err
	}
	objs, err := ReadManifests(files...)
	if err != nil {
		return err
	}
	objs = slices.DeleteFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "Deployment" || strings.HasPrefix(o.GetAPIVersion(), janusv1alpha1.GroupName+"/")
	})
	a, err := NewApplier(t.AdminConfig())
	if err != nil {
		return err
	}
	if err := a.Apply(ctx, objs); err != nil {
		return err
	}
	client, err := t.Client()
	if err != nil {
		return err
	}
	for _, ns := range []string{"payments", "restricted"} {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	// A target runs no controller manager, so nothing makes the default
	// ServiceAccounts that pod admission insists on.
	for _, ns := range []string{"default", "payments", "restricted"} {
		_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating the default ServiceAccount of %s: %w", ns, err)
		}
	}
	return nil
}

// register puts the target's issuer and keys into its Cluster object, as an
// administrator registering a cluster does.
func (t *Target) register(ctx context.Context) error {
	client, err := t.Client()
	if err != nil {
		return err
	}
	jwks, err := client.CoreV1().RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("reading the target's JWKS: %w", err)
	}
	janus, err := versioned.NewForConfig(t.tb.bootstrapConfig())
	if err != nil {
		return err
	}
	agent := janusv1alpha1.ClusterAgent{Issuer: t.issuer, JWKS: string(jwks), ServiceAccount: agentNamespace + "/janus-agent"}
	return WaitUntil(ctx, "registering Cluster "+t.Name, nil, func(ctx context.Context) error {
		c, err := janus.JanusV1alpha1().Clusters().Get(ctx, t.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			_, err = janus.JanusV1alpha1().Clusters().Create(ctx, &janusv1alpha1.Cluster{
				ObjectMeta: metav1.ObjectMeta{Name: t.Name},
				Spec:       janusv1alpha1.ClusterSpec{Agent: agent},
			}, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		c.Spec.Agent = agent
		_, err = janus.JanusV1alpha1().Clusters().UpdateAgent(ctx, c.Name, c, metav1.UpdateOptions{})
		return err
	})
}

// StartAgent mints the agent's tokens, as the kubelet would project them,
// and runs janus-agent until it is connected.
func (t *Target) StartAgent(ctx context.Context) error {
	client, err := t.Client()
	if err != nil {
		return err
	}
	identity, err := client.CoreV1().ServiceAccounts(agentNamespace).CreateToken(ctx, "janus-agent", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{Audiences: []string{tunnel.Audience}, ExpirationSeconds: ptr.To(int64(agentTokenLifetime / time.Second))},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("minting the agent's identity token: %w", err)
	}
	api, err := client.CoreV1().ServiceAccounts(agentNamespace).CreateToken(ctx, "janus-agent", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](24 * 3600)},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("minting the agent's API token: %w", err)
	}
	t.tokenFile = filepath.Join(t.dir, "agent-identity.token")
	if err := os.WriteFile(t.tokenFile, []byte(identity.Status.Token), 0o600); err != nil {
		return err
	}
	t.agentKube = filepath.Join(t.dir, "agent.kubeconfig")
	if err := writeKubeconfig(t.agentKube, t.URL, t.tb.pki.cluster.CA.CertPEM, "janus-agent", &clientcmdapi.AuthInfo{Token: api.Status.Token}); err != nil {
		return err
	}
	profilingPort, err := FreePort()
	if err != nil {
		return err
	}
	t.agentProfiling = fmt.Sprintf("127.0.0.1:%d", profilingPort)
	healthPort, err := FreePort()
	if err != nil {
		return err
	}
	t.agentHealth = fmt.Sprintf("127.0.0.1:%d", healthPort)
	excluded := append([]string{"kube-system", "kube-public", "kube-node-lease"}, t.spec.AgentExcludedNamespaces...)
	args := []string{
		"--janus-url=https://" + t.tb.TunnelAddress(),
		"--janus-ca-file=" + t.tb.TunnelCAFile(),
		"--cluster=" + t.Name,
		"--token-file=" + t.tokenFile,
		"--kubeconfig=" + t.agentKube,
		"--namespace=" + agentNamespace,
		"--excluded-namespaces=" + strings.Join(excluded, ","),
		"--profiling-address=" + t.agentProfiling,
		"--health-bind-address=" + t.agentHealth,
	}
	proc, err := t.tb.procs.Start(t.Name+"-janus-agent", t.tb.cfg.Binaries.JanusAgent, args)
	if err != nil {
		return err
	}
	t.agent = proc
	return t.WaitConnected(ctx, true)
}

// ProfilingAddress is where the running agent serves /debug/pprof, on
// loopback and without authentication.
func (t *Target) ProfilingAddress() string { return t.agentProfiling }

// HealthAddress is where the running agent serves /healthz, /readyz and
// /metrics, on loopback over plain HTTP.
func (t *Target) HealthAddress() string { return t.agentHealth }

// KillAgent ends the agent with SIGKILL, as a crash would.
func (t *Target) KillAgent() error {
	if t.agent == nil {
		return nil
	}
	return t.agent.Kill()
}

// WaitConnected waits until the Cluster's status says the agent is (or is
// not) connected.
func (t *Target) WaitConnected(ctx context.Context, connected bool) error {
	janus, err := versioned.NewForConfig(t.tb.bootstrapConfig())
	if err != nil {
		return err
	}
	// While waiting for a connection, an agent that dies is an error; while
	// waiting for the disconnection, it is the point.
	var agent *Process
	if connected {
		agent = t.agent
	}
	return WaitUntil(ctx, fmt.Sprintf("Cluster %s connected=%v", t.Name, connected), agent, func(ctx context.Context) error {
		c, err := janus.JanusV1alpha1().Clusters().Get(ctx, t.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if c.Status.Agent.Connected != connected {
			return fmt.Errorf("status.agent.connected is %v", c.Status.Agent.Connected)
		}
		return nil
	})
}
