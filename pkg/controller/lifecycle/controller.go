package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
	informers "github.com/infroware/janus/pkg/generated/informers/externalversions/janus/v1alpha1"
	listers "github.com/infroware/janus/pkg/generated/listers/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// Agents reaches the agent of a cluster.
type Agents interface {
	// Agent returns the agent of cluster, or tunnelserver.ErrNotConnected.
	Agent(cluster string) (Agent, error)
}

// Agent is what the controller asks of a cluster's agent;
// *tunnelserver.AgentClient is the one that goes through the tunnel.
type Agent interface {
	Info(ctx context.Context) (tunnel.AgentInfo, error)
	EnsureGrant(ctx context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error)
	RemoveGrant(ctx context.Context, request string) error
	Reconcile(ctx context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error)
}

var _ Agent = (*tunnelserver.AgentClient)(nil)

// TunnelAgents reaches agents through the tunnels of server.
func TunnelAgents(server *tunnelserver.Server) Agents { return tunnelAgents{server} }

type tunnelAgents struct{ server *tunnelserver.Server }

func (t tunnelAgents) Agent(cluster string) (Agent, error) {
	agent, err := t.server.Agent(cluster)
	if err != nil {
		// Not a nil *AgentClient in a non-nil interface.
		return nil, err
	}
	return agent, nil
}

// Options tune the controller.
type Options struct {
	// PendingTimeout denies requests nobody decided on; 0 disables it.
	PendingTimeout time.Duration
	// Retention deletes finished requests after this long; 0 keeps them.
	Retention time.Duration
	// Workers is the number of requests handled at once.
	Workers int
	// Clock tells the time and runs the timers, the work queue's included;
	// nil is the real clock. Tests step a fake one.
	Clock clock.WithTicker
}

// Controller drives AccessRequests through the lifecycle after approval.
type Controller struct {
	client   versioned.Interface
	requests listers.AccessRequestLister
	clusters listers.ClusterLister
	synced   []cache.InformerSynced
	queue    workqueue.TypedRateLimitingInterface[string]
	agents   Agents
	recorder record.EventRecorder
	clock    clock.WithTicker
	opts     Options

	// provisioned remembers the expiry each live grant was last minted for,
	// so an extension re-mints the token. It is empty after a restart, which
	// makes the controller ensure every active grant once more: idempotent,
	// and it repairs grants an agent lost.
	provisioned *expiryMemory
	heartbeats  heartbeats
	// agentsMu guards connected and leading. connected are the clusters
	// whose agent the tunnels reach, leading or not; leading is set once
	// Run has synced its caches: only then does the controller act on
	// agents, so that under leader election only the Lease holder does.
	agentsMu  sync.Mutex
	connected sets.Set[string]
	leading   bool
	// life is the parent of the work the tunnels' callbacks start
	// (reconciling a connected agent, its status heartbeat): it ends when
	// Run does, so none of it outlives the controller.
	life    context.Context
	endLife context.CancelFunc
}

// defaultWorkers is how many requests are handled at once. Requests that
// expire in the same second all start their removal at once up to it: a
// worker is held by the agent's removal and the status write after it
// (about 200 ms each with 100 expiring at once on the testbed), so with
// 16 the hundredth grant went more than a second late. The work is
// waiting on the target and on storage, not CPU.
const defaultWorkers = 128

// New builds the controller on informers of a (loopback) Janus client.
func New(client versioned.Interface, requests informers.AccessRequestInformer, clusters informers.ClusterInformer, agents Agents, recorder record.EventRecorder, opts Options) *Controller {
	if opts.Workers <= 0 {
		opts.Workers = defaultWorkers
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	c := &Controller{
		client:   client,
		requests: requests.Lister(),
		clusters: clusters.Lister(),
		synced:   []cache.InformerSynced{requests.Informer().HasSynced, clusters.Informer().HasSynced},
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "janus_lifecycle", Clock: opts.Clock}),
		agents:      agents,
		recorder:    recorder,
		clock:       opts.Clock,
		opts:        opts,
		provisioned: newExpiryMemory(),
		connected:   sets.New[string](),
	}
	c.life, c.endLife = context.WithCancel(context.Background())
	_, err := requests.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj interface{}) { c.enqueue(obj) },
		DeleteFunc: func(obj interface{}) {
			if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
				c.provisioned.forget(key)
			}
		},
	})
	utilruntime.Must(err)
	_, err = clusters.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		// Deleted and finished requests waiting for the agent of a Cluster
		// that is gone need not wait any more.
		DeleteFunc: func(obj interface{}) {
			name, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
			if err != nil {
				return
			}
			for _, ar := range c.requestsOf(name) {
				if ar.DeletionTimestamp != nil || (isFinished(ar) && grantMayExist(ar)) {
					c.queue.Add(ar.Name)
				}
			}
		},
	})
	utilruntime.Must(err)
	return c
}

func (c *Controller) enqueue(obj interface{}) {
	key, err := cache.MetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.queue.Add(key)
}

// takeoverReconcileWait bounds how long a new leader's workers wait for
// the reconciliation of the agents already connected.
const takeoverReconcileWait = 10 * time.Second

// Run works the queue until ctx ends. Under leader election it is called
// once this replica holds the Lease, and a replica that loses the Lease
// exits; a new leader's informers list every request from storage, so
// every timer (expiry, pending timeout, retention) is armed again.
func (c *Controller) Run(ctx context.Context) error {
	defer utilruntime.HandleCrash()
	defer c.queue.ShutDown()
	defer c.endLife()
	klog.InfoS("Starting lifecycle controller")
	if !cache.WaitForCacheSync(ctx.Done(), c.synced...) {
		return fmt.Errorf("waiting for informer caches: %w", ctx.Err())
	}
	// The agents connected before this replica led are reconciled first:
	// that tells each agent the whole truth before the workers repeat
	// parts of it.
	c.startLeading(takeoverReconcileWait)
	for range c.opts.Workers {
		go wait.UntilWithContext(ctx, c.work, time.Second)
	}
	<-ctx.Done()
	klog.InfoS("Stopping lifecycle controller")
	return nil
}

func (c *Controller) work(ctx context.Context) {
	for c.next(ctx) {
	}
}

func (c *Controller) next(ctx context.Context) bool {
	key, quit := c.queue.Get()
	if quit {
		return false
	}
	defer c.queue.Done(key)
	if err := c.sync(ctx, key); err != nil {
		utilruntime.HandleErrorWithContext(ctx, err, "Syncing access request", "request", key)
		c.queue.AddRateLimited(key)
		return true
	}
	c.queue.Forget(key)
	return true
}

// requestsOf lists the requests for one cluster from the cache.
func (c *Controller) requestsOf(cluster string) []*v1alpha1.AccessRequest {
	all, err := c.requests.List(everything)
	if err != nil {
		return nil
	}
	var out []*v1alpha1.AccessRequest
	for _, ar := range all {
		if ar.Spec.Cluster == cluster {
			out = append(out, ar)
		}
	}
	return out
}
