package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericfilters "k8s.io/apiserver/pkg/server/filters"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	basecompatibility "k8s.io/component-base/compatibility"
	baseversion "k8s.io/component-base/version"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/apiserver"
	"github.com/infroware/janus/pkg/datastore"
	janusopenapi "github.com/infroware/janus/pkg/generated/openapi"
	"github.com/infroware/janus/pkg/replicalease"
	"github.com/infroware/janus/pkg/tunnelserver"
	"github.com/infroware/janus/pkg/version"
)

const etcdPathPrefix = "/registry/janus.infroware.io"

// DefaultExcludedNamespaces may never be requested: the control plane's own
// namespaces and Janus's.
var DefaultExcludedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease", "janus"}

// JanusServerOptions are the flags of janus-apiserver.
type JanusServerOptions struct {
	RecommendedOptions *genericoptions.RecommendedOptions
	Datastore          *datastore.Options
	Recording          *RecordingOptions
	Tunnel             *TunnelOptions
	Peers              *PeerOptions
	SelfManagedTLS     *SelfManagedTLSOptions

	MinDuration        time.Duration
	MaxDuration        time.Duration
	ExcludedNamespaces []string
	AllowSelfApproval  bool
	PendingTimeout     time.Duration
	Retention          time.Duration
	IdleTimeout        time.Duration
	// MaxSessionsPerRequest and MaxSessionsPerUser bound the exec sessions
	// open at once on a replica.
	MaxSessionsPerRequest int
	MaxSessionsPerUser    int
	// AgentTokenMaxLifetime is the longest-lived agent token accepted.
	AgentTokenMaxLifetime time.Duration
	LeaderElection        apiserver.LeaderElection
	// ReplicaName names this replica in the Sessions it relays.
	ReplicaName string
	// ReplicaLeaseDuration is the duration of each replica's heartbeat
	// Lease.
	ReplicaLeaseDuration time.Duration
	// SessionRetention is how long closed Sessions and their recordings
	// are kept.
	SessionRetention time.Duration

	// AlternateDNS are extra names for the self-signed or self-managed
	// serving certificate.
	AlternateDNS []string

	StdOut io.Writer
	StdErr io.Writer
}

// NewJanusServerOptions returns the defaults.
func NewJanusServerOptions(out, errOut io.Writer) *JanusServerOptions {
	o := &JanusServerOptions{
		RecommendedOptions: genericoptions.NewRecommendedOptions(
			etcdPathPrefix,
			apiserver.Codecs.LegacyCodec(v1alpha1.SchemeGroupVersion),
		),
		Datastore:          datastore.NewOptions(),
		Recording:          NewRecordingOptions(),
		Tunnel:             NewTunnelOptions(),
		Peers:              NewPeerOptions(),
		SelfManagedTLS:     NewSelfManagedTLSOptions(),
		MinDuration:        10 * time.Minute,
		MaxDuration:        8 * time.Hour,
		ExcludedNamespaces: append([]string(nil), DefaultExcludedNamespaces...),
		PendingTimeout:     24 * time.Hour,
		Retention:          7 * 24 * time.Hour,
		IdleTimeout:        15 * time.Minute,
		// Four per request, as the original product allowed: a shell and a
		// few helpers, not a fleet.
		MaxSessionsPerRequest: 4,
		MaxSessionsPerUser:    16,
		AgentTokenMaxLifetime: tunnelserver.DefaultMaxTokenLifetime,
		SessionRetention:      90 * 24 * time.Hour,
		ReplicaLeaseDuration:  replicalease.DefaultDuration,
		LeaderElection: apiserver.LeaderElection{
			Enabled:       true,
			Namespace:     "janus",
			Name:          "janus-lifecycle-controller",
			LeaseDuration: 15 * time.Second,
			RenewDeadline: 10 * time.Second,
			RetryPeriod:   2 * time.Second,
		},
		StdOut: out,
		StdErr: errOut,
	}
	o.RecommendedOptions.Etcd.StorageConfig.EncodeVersioner = runtime.NewMultiGroupVersioner(v1alpha1.SchemeGroupVersion, schema.GroupKind{Group: v1alpha1.GroupName})
	// Self-signed serving certificates stay in memory unless a directory or
	// files are given.
	o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = ""
	return o
}

// AddFlags registers every flag.
func (o *JanusServerOptions) AddFlags(fs *pflag.FlagSet) {
	o.RecommendedOptions.AddFlags(fs)
	o.Datastore.AddFlags(fs)
	o.Recording.AddFlags(fs)
	o.Tunnel.AddFlags(fs)
	o.Peers.AddFlags(fs)
	o.SelfManagedTLS.AddFlags(fs)
	fs.DurationVar(&o.MinDuration, "min-duration", o.MinDuration, "Shortest access a request may ask for.")
	fs.DurationVar(&o.MaxDuration, "max-duration", o.MaxDuration, "Longest access a request may ask for; a Cluster's spec.maxDuration may lower it.")
	fs.StringSliceVar(&o.ExcludedNamespaces, "excluded-namespaces", o.ExcludedNamespaces, "Namespaces that may never be requested in any cluster; a Cluster's spec.excludedNamespaces adds to them.")
	fs.BoolVar(&o.AllowSelfApproval, "allow-self-approval", o.AllowSelfApproval, "Let requesters approve and extend their own requests. Only for single-person playgrounds.")
	fs.DurationVar(&o.PendingTimeout, "pending-timeout", o.PendingTimeout, "Deny requests nobody decided on within this time (reason PendingTimeout); 0 waits forever.")
	fs.DurationVar(&o.Retention, "retention", o.Retention, "Delete finished requests this long after they ended; 0 keeps them forever.")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", o.IdleTimeout, "Close exec sessions with no input or output for this long, warning the user a minute before (half way for timeouts under 2m); 0 never closes them.")
	fs.IntVar(&o.MaxSessionsPerRequest, "max-sessions-per-request", o.MaxSessionsPerRequest, "Exec sessions one access request may have open at once; more are refused with 429. 0 means no bound.")
	fs.IntVar(&o.MaxSessionsPerUser, "max-sessions-per-user", o.MaxSessionsPerUser, "Exec sessions one user may have open at once, over all their requests; more are refused with 429. 0 means no bound.")
	fs.DurationVar(&o.AgentTokenMaxLifetime, "agent-token-max-lifetime", o.AgentTokenMaxLifetime, "Refuse agent tokens that live longer than this (exp - iat); a tunnel is closed when its token expires, and agents reconnect with a fresh one before.")
	fs.BoolVar(&o.LeaderElection.Enabled, "leader-elect", o.LeaderElection.Enabled, "Hold a Lease in the central cluster before running the lifecycle controller, so that replicas never both act. Needs --kubeconfig (or in-cluster config).")
	fs.StringVar(&o.LeaderElection.Namespace, "leader-elect-namespace", o.LeaderElection.Namespace, "Namespace of the lifecycle controller's Lease.")
	fs.StringVar(&o.ReplicaName, "replica-name", o.ReplicaName, "Names this replica in the Sessions it relays (status.server); at start it closes the Sessions it left open. Defaults to the host name (the Pod's name), which a restarted container keeps.")
	fs.DurationVar(&o.ReplicaLeaseDuration, "replica-lease-duration", o.ReplicaLeaseDuration, "With peers (--peers or --peer-service), each replica renews a heartbeat Lease of its own in --leader-elect-namespace every sixth of this; the Lease holder counts a replica whose Lease went unrenewed this long gone and closes its Open Sessions, sealing their recordings. A replica that cannot renew for half of it cuts its sessions and refuses new ones (503) until it can.")
	fs.DurationVar(&o.SessionRetention, "session-retention", o.SessionRetention, "Delete closed Sessions and their recordings this long after they ended, whatever became of their request; 0 keeps them forever.")
	fs.StringSliceVar(&o.AlternateDNS, "alternate-dns", o.AlternateDNS, "Extra DNS names for the self-signed serving certificate, and the names of the one --tls-self-managed-secret keeps.")
}

// Complete fills in what the flags leave open: the datastore endpoint from
// --datastore-endpoint-file. The etcd server list of --datastore-endpoint
// is known only once Config has started the datastore.
func (o *JanusServerOptions) Complete() error {
	if o.ReplicaName == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("reading the host name for --replica-name: %w", err)
		}
		o.ReplicaName = host
	}
	o.Peers.Complete()
	if o.SelfManagedTLS.Enabled() {
		o.Peers.SelfManagedCA = o.SelfManagedTLS.CABundle
	}
	return o.Datastore.Complete()
}

// Validate reports every problem with the flags.
func (o *JanusServerOptions) Validate() error {
	var errs []error
	recommended := *o.RecommendedOptions
	if o.usesDatastoreEndpoint() {
		// Upstream insists on --etcd-servers. Its other etcd options are
		// checked on a copy naming the datastore Config will start; the
		// options themselves keep an empty list until then.
		etcd := *recommended.Etcd
		etcd.StorageConfig.Transport.ServerList = []string{"unix://janus-datastore"}
		recommended.Etcd = &etcd
		errs = append(errs, o.Datastore.Validate()...)
	} else if o.Datastore.HasEndpoint() {
		errs = append(errs, errors.New("--datastore-endpoint (or its file) and --etcd-servers are mutually exclusive"))
	}
	errs = append(errs, recommended.Validate()...)
	errs = append(errs, o.Recording.Validate()...)
	errs = append(errs, o.Tunnel.Validate()...)
	errs = append(errs, o.Peers.Validate()...)
	errs = append(errs, o.SelfManagedTLS.Validate(o.RecommendedOptions.SecureServing.ServerCert.CertKey.CertFile, o.AlternateDNS)...)
	if o.ReplicaLeaseDuration < time.Second {
		errs = append(errs, fmt.Errorf("--replica-lease-duration must be at least 1s, not %s", o.ReplicaLeaseDuration))
	}
	if o.MinDuration <= 0 {
		errs = append(errs, fmt.Errorf("--min-duration must be positive, not %s", o.MinDuration))
	}
	if o.PendingTimeout < 0 || o.Retention < 0 || o.IdleTimeout < 0 || o.SessionRetention < 0 {
		errs = append(errs, errors.New("--pending-timeout, --retention, --session-retention and --idle-timeout must not be negative"))
	}
	if o.AgentTokenMaxLifetime <= 0 {
		errs = append(errs, fmt.Errorf("--agent-token-max-lifetime must be positive, not %s", o.AgentTokenMaxLifetime))
	}
	if o.MaxSessionsPerRequest < 0 || o.MaxSessionsPerUser < 0 {
		errs = append(errs, errors.New("--max-sessions-per-request and --max-sessions-per-user must not be negative"))
	}
	if o.MaxDuration < o.MinDuration {
		errs = append(errs, fmt.Errorf("--max-duration (%s) must not be shorter than --min-duration (%s)", o.MaxDuration, o.MinDuration))
	}
	return utilerrors.NewAggregate(errs)
}

// usesDatastoreEndpoint is true unless --etcd-servers names etcd directly.
func (o *JanusServerOptions) usesDatastoreEndpoint() bool {
	return len(o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList) == 0
}

// Config starts the datastore and builds the server configuration. The
// datastore runs until ctx is done.
func (o *JanusServerOptions) Config(ctx context.Context) (*apiserver.Config, error) {
	if o.usesDatastoreEndpoint() {
		endpoints, err := o.Datastore.Start(ctx)
		if err != nil {
			return nil, fmt.Errorf("starting datastore: %w", err)
		}
		o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = endpoints
		o.Datastore.ApplyTo(&o.RecommendedOptions.Etcd.StorageConfig.Transport)
	}

	// A self-managed certificate comes from its Secret instead.
	if !o.SelfManagedTLS.Enabled() {
		if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", o.AlternateDNS, []net.IP{netutils.ParseIPSloppy("127.0.0.1")}); err != nil {
			return nil, fmt.Errorf("creating self-signed certificates: %w", err)
		}
	}

	serverConfig := genericapiserver.NewRecommendedConfig(apiserver.Codecs)
	namer := openapi.NewDefinitionNamer(apiserver.Scheme)
	serverConfig.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(janusopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIConfig.Info.Title = "Janus"
	// The documents' version is the build serving them, as kube-apiserver's
	// is: kube-apiserver passes the janus.infroware.io OpenAPI v3 document
	// through unchanged, so this is how `kubectl janus version` learns the
	// server's version through the aggregation layer.
	serverConfig.OpenAPIConfig.Info.Version = version.Get().GitVersion
	serverConfig.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(janusopenapi.GetOpenAPIDefinitions, namer)
	serverConfig.OpenAPIV3Config.Info.Title = "Janus"
	serverConfig.OpenAPIV3Config.Info.Version = version.Get().GitVersion
	// exec, log and attach streams last as long as the session: no request
	// timeout, and not counted as in-flight requests.
	serverConfig.LongRunningFunc = genericfilters.BasicLongRunningRequestCheck(sets.NewString("watch"), sets.NewString("exec", "log", "attach"))
	// Watches (kube-controller-manager watches every aggregated resource)
	// are told to end at shutdown instead of holding the server open for
	// the whole request timeout.
	serverConfig.ShutdownWatchTerminationGracePeriod = 5 * time.Second
	serverConfig.FeatureGate = utilfeature.DefaultFeatureGate
	serverConfig.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString(baseversion.DefaultKubeBinaryVersion, "", "")

	if err := o.RecommendedOptions.ApplyTo(serverConfig); err != nil {
		return nil, fmt.Errorf("applying options: %w", err)
	}
	if err := o.SelfManagedTLS.ApplyTo(serverConfig, o.AlternateDNS); err != nil {
		return nil, err
	}

	var kubeClient kubernetes.Interface
	if serverConfig.ClientConfig != nil {
		var err error
		if kubeClient, err = kubernetes.NewForConfig(serverConfig.ClientConfig); err != nil {
			return nil, fmt.Errorf("building client for the central cluster: %w", err)
		}
	}

	recordingConfig, err := o.Recording.Config(o.Datastore.DataDir)
	if err != nil {
		return nil, err
	}

	config := &apiserver.Config{
		GenericConfig: serverConfig,
		ExtraConfig: apiserver.ExtraConfig{
			Policy: validation.Policy{
				MinDuration:        o.MinDuration,
				MaxDuration:        o.MaxDuration,
				ExcludedNamespaces: sets.New(o.ExcludedNamespaces...),
			},
			AllowSelfApproval:     o.AllowSelfApproval,
			PendingTimeout:        o.PendingTimeout,
			Retention:             o.Retention,
			IdleTimeout:           o.IdleTimeout,
			MaxSessionsPerRequest: o.MaxSessionsPerRequest,
			MaxSessionsPerUser:    o.MaxSessionsPerUser,
			AgentTokenMaxLifetime: o.AgentTokenMaxLifetime,
			KubeClient:            kubeClient,
			LeaderElection:        o.LeaderElection,
			Recording:             recordingConfig,
			ReplicaName:           o.ReplicaName,
			ReplicaLeaseDuration:  o.ReplicaLeaseDuration,
			SessionRetention:      o.SessionRetention,
		},
	}
	if err := o.Tunnel.ApplyTo(serverConfig.SecureServing, &config.ExtraConfig); err != nil {
		return nil, err
	}
	if err := o.Peers.ApplyTo(&config.ExtraConfig, o.ReplicaName); err != nil {
		return nil, err
	}
	if config.ExtraConfig.Peering != nil && config.ExtraConfig.Peering.Service != "" && kubeClient == nil {
		return nil, errors.New("--peer-service needs --kubeconfig (or in-cluster config) to follow the peers' EndpointSlices")
	}
	if config.ExtraConfig.Peering != nil && !o.Recording.Shared() {
		klog.InfoS("Warning: this replica has peers and records sessions into a directory: a recording is read (replay, verify, and sealed when its replica is lost) only through the replica that made it, unless every replica mounts that directory. Give every replica one s3:// --recording-store", "replica", o.ReplicaName)
	}
	return config, nil
}

// Run serves until ctx is done. The embedded datastore outlives the
// server's graceful shutdown: stopping it with the server would leave the
// draining server's storage clients retrying a vanished socket.
func (o *JanusServerOptions) Run(ctx context.Context) error {
	storeCtx, stopStore := context.WithCancel(context.WithoutCancel(ctx))
	defer stopStore()
	config, err := o.Config(storeCtx)
	if err != nil {
		return err
	}
	server, err := config.Complete().New()
	if err != nil {
		return err
	}
	return server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
}
