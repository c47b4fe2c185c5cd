package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/agent/connector"
	"github.com/infroware/janus/pkg/agent/health"
)

// Config is a completed and validated configuration: the target cluster's
// client and what the tunnel needs.
type Config struct {
	JanusURL  string
	Cluster   string
	TokenFile string
	// TLSConfig verifies janus-apiserver.
	TLSConfig *tls.Config

	TargetClient       kubernetes.Interface
	TargetRESTConfig   *rest.Config
	Namespace          string
	ExcludedNamespaces []string
	// ProfilingAddress, if set, is where pprof is served.
	ProfilingAddress string
	// HealthAddress, if set, is where /healthz, /readyz and /metrics are
	// served.
	HealthAddress string
}

// Agent is a provisioner and the agent API it serves through the tunnel.
type Agent struct {
	Provisioner *Provisioner
	Handler     http.Handler
	config      *Config
}

// New builds the agent.
func (c *Config) New() (*Agent, error) {
	p := NewProvisioner(c.TargetClient, c.Namespace, c.ExcludedNamespaces)
	streams, err := NewStreamRelay(c.TargetRESTConfig, p)
	if err != nil {
		return nil, err
	}
	return &Agent{Provisioner: p, Handler: NewHandlerWithStreams(p, streams), config: c}, nil
}

// Run dials janus-apiserver and serves the agent API through the tunnel,
// reconnecting until ctx ends.
func (a *Agent) Run(ctx context.Context) error {
	c := a.config
	klog.InfoS("Starting janus-agent", "version", Version, "cluster", c.Cluster, "janusURL", c.JanusURL,
		"namespace", c.Namespace, "excludedNamespaces", sets.List(a.Provisioner.excluded))
	// The agent connects all the same: every grant is then refused with
	// the same message, which reaches the requester, and works as soon as
	// the administrators have fixed the cluster.
	if err := a.Provisioner.checkGrantClusterRole(ctx); err != nil {
		klog.ErrorS(err, "This cluster cannot be granted until its administrators fix it", "clusterRole", GrantClusterRole)
	}
	a.Provisioner.WatchNamespaces(ctx)
	if c.ProfilingAddress != "" {
		if err := serveProfiling(ctx, c.ProfilingAddress); err != nil {
			return err
		}
	}
	tunnelState := health.NewTunnel()
	if c.HealthAddress != "" {
		if err := health.Serve(ctx, c.HealthAddress, tunnelState); err != nil {
			return err
		}
	}
	return connector.Run(ctx, connector.Config{
		URL:       c.JanusURL,
		Cluster:   c.Cluster,
		TokenFile: c.TokenFile,
		TLSConfig: c.TLSConfig,
		OnConnect: tunnelState.Up,
		OnDown:    tunnelState.Down,
	}, a.Handler)
}

// serveProfiling serves net/http/pprof on address until ctx ends. It
// listens before it returns, so an address in use fails the start rather
// than a later profile.
func serveProfiling(ctx context.Context, address string) error {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listening on --profiling-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	go func() {
		if err := server.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Profiling stopped", "address", l.Addr().String())
		}
	}()
	klog.InfoS("Serving profiles", "address", l.Addr().String())
	return nil
}
