package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/infroware/janus/pkg/agent"
)

const (
	// DefaultTokenFile is where the Deployment in artifacts/agent mounts
	// the projected ServiceAccount token with the audience janus.infroware.io.
	DefaultTokenFile = "/var/run/secrets/janus/token"
	// DefaultNamespace is the agent's namespace when neither --namespace
	// nor POD_NAMESPACE says otherwise.
	DefaultNamespace = "janus"
	// PodNamespaceEnv is set from the downward API in artifacts/agent.
	PodNamespaceEnv = "POD_NAMESPACE"
	// DefaultHealthBindAddress is the health and metrics port the
	// Deployment's probes and Prometheus use.
	DefaultHealthBindAddress = ":8080"
)

// AgentOptions are the flags of janus-agent.
type AgentOptions struct {
	// JanusURL is janus-apiserver's tunnel endpoint, https://host:port.
	JanusURL string
	// Cluster is the name of this cluster's Cluster object in Janus.
	Cluster string
	// TokenFile holds the projected ServiceAccount token the agent proves
	// its identity with; it is read again on every connect.
	TokenFile string
	// JanusCAFile, if set, is the only CA the agent trusts for JanusURL.
	JanusCAFile string
	// Namespace is the agent's own namespace, where the grants'
	// ServiceAccounts live.
	Namespace string
	// ExcludedNamespaces may never be granted; Namespace is always added.
	ExcludedNamespaces []string
	// Kubeconfig reaches the target cluster from outside it; empty means
	// the in-cluster ServiceAccount.
	Kubeconfig string
	// ProfilingAddress, if set, serves net/http/pprof there. It has no
	// authentication: keep it on loopback.
	ProfilingAddress string
	// HealthBindAddress serves /healthz, /readyz and /metrics; "0" turns
	// the port off.
	HealthBindAddress string
}

// NewAgentOptions returns the defaults.
func NewAgentOptions() *AgentOptions {
	return &AgentOptions{
		TokenFile:          DefaultTokenFile,
		HealthBindAddress:  DefaultHealthBindAddress,
		ExcludedNamespaces: append([]string(nil), agent.DefaultExcludedNamespaces...),
	}
}

// AddFlags registers every flag.
func (o *AgentOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.JanusURL, "janus-url", o.JanusURL, "janus-apiserver's address, https://host:port; the agent dials its /connect endpoint.")
	fs.StringVar(&o.Cluster, "cluster", o.Cluster, "The name of this cluster's Cluster object in Janus.")
	fs.StringVar(&o.TokenFile, "token-file", o.TokenFile, "The projected ServiceAccount token (audience janus.infroware.io) the agent authenticates with; read again on every connect.")
	fs.StringVar(&o.JanusCAFile, "janus-ca-file", o.JanusCAFile, "PEM bundle of the CAs to trust for --janus-url instead of the system's.")
	fs.StringVar(&o.Namespace, "namespace", o.Namespace, "The agent's own namespace, where per-request ServiceAccounts are made. Defaults to $"+PodNamespaceEnv+", else "+DefaultNamespace+".")
	fs.StringSliceVar(&o.ExcludedNamespaces, "excluded-namespaces", o.ExcludedNamespaces, "Namespaces the agent never grants access to, whatever Janus asks. The agent's own namespace is always added.")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", o.Kubeconfig, "kubeconfig of the target cluster; when empty the in-cluster ServiceAccount is used.")
	fs.StringVar(&o.HealthBindAddress, "health-bind-address", o.HealthBindAddress, "host:port to serve /healthz and /readyz (200 while the tunnel to Janus is up, else 503 with the reason) and /metrics on, without authentication; 0 turns the port off.")
	fs.StringVar(&o.ProfilingAddress, "profiling-address", o.ProfilingAddress, "host:port to serve /debug/pprof on, without authentication (keep it on loopback); empty turns profiling off.")
}

// Complete fills in what the flags leave open.
func (o *AgentOptions) Complete() error {
	if o.Namespace == "" {
		o.Namespace = os.Getenv(PodNamespaceEnv)
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	return nil
}

// Validate reports every problem with the flags.
func (o *AgentOptions) Validate() error {
	var errs []error
	if o.JanusURL == "" {
		errs = append(errs, errors.New("--janus-url is required"))
	} else if u, err := url.Parse(o.JanusURL); err != nil || u.Scheme != "https" || u.Host == "" {
		errs = append(errs, fmt.Errorf("--janus-url must be an https URL with a host, not %q", o.JanusURL))
	}
	if o.Cluster == "" {
		errs = append(errs, errors.New("--cluster is required"))
	} else if msgs := validation.IsDNS1123Label(o.Cluster); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--cluster %q is not a Cluster name: %v", o.Cluster, msgs))
	}
	if o.TokenFile == "" {
		errs = append(errs, errors.New("--token-file is required"))
	}
	if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--namespace %q is not a namespace name: %v", o.Namespace, msgs))
	}
	for _, ns := range o.ExcludedNamespaces {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--excluded-namespaces: %q is not a namespace name: %v", ns, msgs))
		}
	}
	if o.HealthBindAddress != "0" {
		if _, _, err := net.SplitHostPort(o.HealthBindAddress); err != nil {
			errs = append(errs, fmt.Errorf("--health-bind-address %q is not host:port (or 0 to turn it off): %w", o.HealthBindAddress, err))
		}
	}
	if o.ProfilingAddress != "" {
		if _, _, err := net.SplitHostPort(o.ProfilingAddress); err != nil {
			errs = append(errs, fmt.Errorf("--profiling-address %q is not host:port: %w", o.ProfilingAddress, err))
		}
	}
	return utilerrors.NewAggregate(errs)
}

// Config builds the configuration from completed, valid options.
func (o *AgentOptions) Config() (*agent.Config, error) {
	restConfig, err := o.targetRESTConfig()
	if err != nil {
		return nil, err
	}
	restConfig.UserAgent = "janus-agent/" + agent.Version
	// Grants are made and removed in bursts (a reconcile after a reconnect,
	// a hundred requests expiring in the same second) and each takes a few
	// calls; a client-side limit would make access outlive its expiry. The
	// target's own priority and fairness protects it.
	restConfig.QPS, restConfig.Burst = 500, 1000
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return nil, fmt.Errorf("creating the target cluster's client: %w", err)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.JanusCAFile != "" {
		pem, err := os.ReadFile(o.JanusCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading --janus-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--janus-ca-file %s holds no PEM certificate", o.JanusCAFile)
		}
		tlsConfig.RootCAs = pool
	}
	return &agent.Config{
		JanusURL:           o.JanusURL,
		Cluster:            o.Cluster,
		TokenFile:          o.TokenFile,
		TLSConfig:          tlsConfig,
		TargetClient:       client,
		TargetRESTConfig:   restConfig,
		Namespace:          o.Namespace,
		ExcludedNamespaces: o.ExcludedNamespaces,
		ProfilingAddress:   o.ProfilingAddress,
		HealthAddress:      o.healthAddress(),
	}, nil
}

// healthAddress is where the health port listens; "" when it is off.
func (o *AgentOptions) healthAddress() string {
	if o.HealthBindAddress == "0" {
		return ""
	}
	return o.HealthBindAddress
}

func (o *AgentOptions) targetRESTConfig() (*rest.Config, error) {
	if o.Kubeconfig == "" {
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("loading the in-cluster configuration (outside a cluster, pass --kubeconfig): %w", err)
		}
		return c, nil
	}
	c, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading --kubeconfig %s: %w", o.Kubeconfig, err)
	}
	return c, nil
}

// Run connects to Janus and serves the agent API until ctx ends.
func (o *AgentOptions) Run(ctx context.Context) error {
	config, err := o.Config()
	if err != nil {
		return err
	}
	a, err := config.New()
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
