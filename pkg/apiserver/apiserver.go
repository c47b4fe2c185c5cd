package apiserver

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"time"

	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/controller/lifecycle"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/registry/janus/accessrequest"
	"github.com/infroware/janus/pkg/registry/janus/cluster"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/session"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// ExtraConfig is the Janus-specific configuration.
type ExtraConfig struct {
	// Policy holds the server-wide limits on requests.
	Policy validation.Policy
	// AllowSelfApproval lets requesters approve their own requests (for
	// single-person playgrounds only).
	AllowSelfApproval bool
	// PendingTimeout denies requests nobody decided on; 0 disables it.
	PendingTimeout time.Duration
	// Retention deletes finished requests after this long; 0 keeps them.
	Retention time.Duration
	// IdleTimeout closes exec sessions without input or output for this
	// long; 0 never does.
	IdleTimeout time.Duration
	// MaxSessionsPerRequest and MaxSessionsPerUser bound the exec
	// sessions open at once; 0 means no bound.
	MaxSessionsPerRequest int
	MaxSessionsPerUser    int
	// AgentTokenMaxLifetime bounds the lifetime of the tokens agents
	// connect with.
	AgentTokenMaxLifetime time.Duration
	// KubeClient reaches the central kube-apiserver, for Events and the
	// controller's leader election. Without it Events are only logged and
	// the controller runs unelected (a single replica).
	KubeClient kubernetes.Interface
	// LeaderElection configures the lifecycle controller's Lease.
	LeaderElection LeaderElection
	// Recording records every exec session; nil records none.
	Recording *session.RecordingConfig
	// ReplicaName names this replica in the Sessions it relays; at start
	// it closes the Sessions it left open.
	ReplicaName string
	// ReplicaLeaseDuration is the duration of the replicas' heartbeat
	// Leases (with Peering and leader election).
	ReplicaLeaseDuration time.Duration
	// SessionRetention deletes closed Sessions, and their recordings,
	// this long after they ended; 0 keeps them.
	SessionRetention time.Duration
	// TunnelListener, if set, serves /connect on a port of its own.
	TunnelListener *tunnelserver.Listener
	// NoTunnelOnAPIPort stops serving /connect on the API port, once
	// agents use TunnelListener.
	NoTunnelOnAPIPort bool
	// Peering, if set, lets this replica reach the tunnels the other
	// replicas hold.
	Peering *Peering
}

// Config is the configuration of a Janus API server.
type Config struct {
	GenericConfig *genericapiserver.RecommendedConfig
	ExtraConfig   ExtraConfig
}

type completedConfig struct {
	GenericConfig genericapiserver.CompletedConfig
	ExtraConfig   *ExtraConfig
}

// CompletedConfig is a Config whose defaults are filled in; only it can
// build a server.
type CompletedConfig struct {
	*completedConfig
}

// JanusServer is the running API server.
type JanusServer struct {
	GenericAPIServer *genericapiserver.GenericAPIServer
	// Tunnels holds the agents' connections.
	Tunnels *tunnelserver.Server
}

// Complete fills in the defaults.
func (cfg *Config) Complete() CompletedConfig {
	return CompletedConfig{&completedConfig{cfg.GenericConfig.Complete(), &cfg.ExtraConfig}}
}

// New builds the server: the janus.infroware.io API group, the agents'
// tunnel endpoint and the lifecycle controller.
func (c completedConfig) New() (*JanusServer, error) {
	clusters, err := cluster.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter)
	if err != nil {
		return nil, err
	}
	tunnels := tunnelserver.NewServer(clusters.Cluster, c.ExtraConfig.AgentTokenMaxLifetime)
	// Agents authenticate with their own cluster's token, which the API
	// server's authentication must neither see nor judge, and hold their
	// tunnel open for days: /connect goes around the handler chain.
	buildChain := c.GenericConfig.BuildHandlerChainFunc
	c.GenericConfig.BuildHandlerChainFunc = func(apiHandler http.Handler, config *genericapiserver.Config) http.Handler {
		chain := buildChain(apiHandler, config)
		if c.ExtraConfig.NoTunnelOnAPIPort {
			return chain
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == tunnel.ConnectPath {
				tunnels.ServeHTTP(w, r)
				return
			}
			chain.ServeHTTP(w, r)
		})
	}
	genericServer, err := c.GenericConfig.New("janus-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, fmt.Errorf("building generic API server: %w", err)
	}
	if err := genericServer.AddReadyzChecks(frontProxyCAReady(c.GenericConfig.Authentication.RequestHeaderConfig, time.Now)); err != nil {
		return nil, fmt.Errorf("adding the front-proxy CA readiness check: %w", err)
	}

	var recordings recording.Store
	if c.ExtraConfig.Recording != nil {
		recordings = c.ExtraConfig.Recording.Store
	}
	engine := session.New(session.Config{
		Streams:               tunnels,
		IdleTimeout:           c.ExtraConfig.IdleTimeout,
		MaxSessionsPerRequest: c.ExtraConfig.MaxSessionsPerRequest,
		MaxSessionsPerUser:    c.ExtraConfig.MaxSessionsPerUser,
		Recording:             c.ExtraConfig.Recording,
	})
	sessions, err := sessionregistry.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, sessionregistry.Options{
		Authorizer: c.GenericConfig.Authorization.Authorizer,
		Recordings: recordings,
		Live:       engine,
		// Attach and terminate work from any replica: the one relaying a
		// session serves the others' peer calls about it.
		Peers:       tunnels,
		ReplicaName: c.ExtraConfig.ReplicaName,
	})
	if err != nil {
		return nil, err
	}
	tunnels.HandlePeerCalls(sessionregistry.PeerCalls(engine))
	records := sessionregistry.NewRecords(sessions, c.ExtraConfig.ReplicaName, recordings)

	recorder, stopRecorder := events.NewRecorder(c.ExtraConfig.KubeClient)
	requests, err := accessrequest.NewStorage(Scheme, c.GenericConfig.RESTOptionsGetter, accessrequest.Options{
		Clusters:          clusters.Cluster,
		Authorizer:        c.GenericConfig.Authorization.Authorizer,
		Policy:            c.ExtraConfig.Policy,
		AllowSelfApproval: c.ExtraConfig.AllowSelfApproval,
		Recorder:          recorder,
		Sessions:          engine,
		Agents:            tunnels,
		Records:           records,
	})
	if err != nil {
		return nil, err
	}

	storage := requests.Resources()
	maps.Copy(storage, clusters.Resources())
	maps.Copy(storage, sessions.Resources())

	apiGroupInfo := genericapiserver.NewDefaultAPIGroupInfo(janus.GroupName, Scheme, ParameterCodec, Codecs)
	apiGroupInfo.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage(storage)
	if err := genericServer.InstallAPIGroup(&apiGroupInfo); err != nil {
		return nil, fmt.Errorf("installing API group %s: %w", janus.GroupName, err)
	}

	controllerOpts := lifecycle.Options{PendingTimeout: c.ExtraConfig.PendingTimeout, Retention: c.ExtraConfig.Retention}
	leaderWork := []func(context.Context){sessionRetention(sessions, recordings, c.ExtraConfig.SessionRetention)}
	if lost := lostReplicas(*c.ExtraConfig, records, requests); lost != nil {
		leaderWork = append(leaderWork, lost)
	}
	genericServer.AddPostStartHookOrDie("janus-lifecycle-controller", func(hook genericapiserver.PostStartHookContext) error {
		return startLifecycleController(hook, c.ExtraConfig, tunnels, recorder, controllerOpts, leaderWork...)
	})
	if err := addReplicaHeartbeat(genericServer, *c.ExtraConfig, engine); err != nil {
		return nil, err
	}
	if l := c.ExtraConfig.TunnelListener; l != nil {
		genericServer.AddPostStartHookOrDie("janus-tunnel-listener", func(hook genericapiserver.PostStartHookContext) error {
			go func() {
				if err := l.Serve(hook.Context, tunnels); err != nil {
					klog.ErrorS(err, "Agent tunnel listener stopped")
				}
			}()
			return nil
		})
	}
	if c.ExtraConfig.Peering != nil {
		genericServer.AddPostStartHookOrDie("janus-tunnel-peering", func(hook genericapiserver.PostStartHookContext) error {
			return startPeering(hook, c.ExtraConfig, tunnels)
		})
		// Not ready before the peers' links are up: a restarted replica
		// would answer exec for the agents they hold with 503.
		if err := genericServer.AddReadyzChecks(tunnels.PeersSynced()); err != nil {
			return nil, fmt.Errorf("adding the peers readiness check: %w", err)
		}
	}
	addSessionHooks(genericServer, records, requests)
	genericServer.AddPreShutdownHookOrDie("janus-event-recorder", func() error {
		stopRecorder()
		return nil
	})
	return &JanusServer{GenericAPIServer: genericServer, Tunnels: tunnels}, nil
}
