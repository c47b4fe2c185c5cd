package apiserver

import (
	"context"
	"fmt"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/controller/lifecycle"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	"github.com/infroware/janus/pkg/generated/informers/externalversions"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// LeaderElection configures the Lease that keeps two replicas from both
// running the lifecycle controller.
type LeaderElection struct {
	Enabled       bool
	Namespace     string
	Name          string
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
}

// startLifecycleController runs the lifecycle controller, and with it
// leaderWork (session retention), on the Lease holder only: grants,
// expiries, the reconciliation of connecting agents and retention are
// done by one replica, whichever replica holds each agent's tunnel.
func startLifecycleController(hook genericapiserver.PostStartHookContext, extra *ExtraConfig, tunnels *tunnelserver.Server, recorder record.EventRecorder, opts lifecycle.Options, leaderWork ...func(context.Context)) error {
	// Expiries come in bursts and must not queue behind a client-side rate
	// limit; loopback requests are exempt from priority and fairness.
	loopback := rest.CopyConfig(hook.LoopbackClientConfig)
	loopback.QPS, loopback.Burst = 1000, 2000
	client, err := versioned.NewForConfig(loopback)
	if err != nil {
		return fmt.Errorf("building loopback client: %w", err)
	}
	factory := externalversions.NewSharedInformerFactory(client, 0)
	v1 := factory.Janus().V1alpha1()
	controller := lifecycle.New(client, v1.AccessRequests(), v1.Clusters(), lifecycle.TunnelAgents(tunnels), recorder, opts)
	tunnels.AddListener(controller)
	// Every replica closes the tunnels it holds whose Cluster trust went,
	// leader or not.
	if _, err := v1.Clusters().Informer().AddEventHandler(tunnels.ClusterTrustHandler()); err != nil {
		return fmt.Errorf("following Clusters for the tunnels: %w", err)
	}
	if _, err := v1.Clusters().Informer().AddEventHandler(registeredClustersHandler(tunnels)); err != nil {
		return fmt.Errorf("following Clusters for the metrics: %w", err)
	}
	requests := v1.AccessRequests().Lister()
	requestPhases.requests.Store(&requests)
	factory.Start(hook.Done())

	// The hook's context ends when the server stops, and with it the
	// controller and its lease.
	ctx := hook.Context
	if extra.Peering != nil {
		// Every replica follows the agents its peers hold, so that the
		// one leading, now or later, knows every connected agent.
		clusters := v1.Clusters().Lister()
		go tunnels.FollowPeerTunnels(ctx, func() []string {
			list, err := clusters.List(labels.Everything())
			if err != nil {
				return nil
			}
			names := make([]string, 0, len(list))
			for _, c := range list {
				names = append(names, c.Name)
			}
			return names
		})
	}
	lead := func(ctx context.Context) {
		for _, work := range leaderWork {
			go work(ctx)
		}
		_ = controller.Run(ctx)
	}
	le := extra.LeaderElection
	if extra.KubeClient == nil || !le.Enabled {
		go lead(ctx)
		return nil
	}
	// The identity is the replica's name, by default the host (the Pod's
	// name): a replica restarted after a crash takes its own lease back at
	// once instead of waiting for it to expire, so expiry timers fire on
	// time after a kill -9; and replicas sharing a host stay apart.
	host := extra.ReplicaName
	if host == "" {
		var err error
		if host, err = os.Hostname(); err != nil {
			return fmt.Errorf("reading the host name for leader election: %w", err)
		}
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.Name},
		Client:     extra.KubeClient.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: host, EventRecorder: recorder},
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   le.LeaseDuration,
		RenewDeadline:   le.RenewDeadline,
		RetryPeriod:     le.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            le.Name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: lead,
			// Like kube-controller-manager: a replica that lost its lease
			// restarts rather than risk acting beside the new leader.
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					klog.ErrorS(nil, "Lifecycle controller lost its lease; exiting")
					klog.FlushAndExit(klog.ExitFlushTimeout, 1)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("configuring leader election: %w", err)
	}
	go elector.Run(ctx)
	return nil
}
