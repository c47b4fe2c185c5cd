package lostreplica

import (
	"context"
	"fmt"
	"slices"
	"time"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/replicalease"
)

// Sessions are the Session records (the session registry's Records).
type Sessions interface {
	// OpenServers names the replicas of the Open Sessions.
	OpenServers(ctx context.Context) ([]string, error)
	// CloseOfReplica closes the Open Sessions of replica server, sealing
	// their recordings, and tells ended of each.
	CloseOfReplica(ctx context.Context, server, reason string, ended func(context.Context, *janus.Session)) (int, error)
}

// Options configure the controller.
type Options struct {
	// Replica is this replica's name: never counted gone.
	Replica string
	// Duration is the replicas' Lease duration: how long a Lease must
	// stay unchanged before its replica is counted gone.
	Duration time.Duration
	// Interval is the time between sweeps; a quarter of Duration when 0.
	Interval time.Duration
	// Ended, if not nil, is told of each Session closed (to count it on
	// its request).
	Ended func(context.Context, *janus.Session)
	// Clock is the real clock unless a test sets it.
	Clock clock.WithTicker
}

// Controller closes the Sessions of lapsed replicas.
type Controller struct {
	observer *replicalease.Observer
	sessions Sessions
	opts     Options
}

// New returns the controller; observer must count with opts.Clock.
func New(observer *replicalease.Observer, sessions Sessions, opts Options) *Controller {
	if opts.Duration <= 0 {
		opts.Duration = replicalease.DefaultDuration
	}
	if opts.Interval <= 0 {
		opts.Interval = max(opts.Duration/4, time.Second)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	registerMetrics()
	return &Controller{observer: observer, sessions: sessions, opts: opts}
}

// Run sweeps at once and then every Interval until ctx is done. A new
// Lease holder starts counting afresh: a replica is counted gone a whole
// Duration after this one first looked, whatever the Lease's timestamps
// say.
func (c *Controller) Run(ctx context.Context) {
	klog.InfoS("Starting the closing of lost replicas' sessions", "leaseDuration", c.opts.Duration, "interval", c.opts.Interval)
	ticker := c.opts.Clock.NewTicker(c.opts.Interval)
	defer ticker.Stop()
	for {
		if closed, err := c.Sweep(ctx); err != nil {
			klog.ErrorS(err, "Closing the sessions of lost replicas; retrying next sweep", "closed", closed, "next", c.opts.Interval)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

// Sweep looks at the replicas' Leases once, closes the Open Sessions of
// every replica whose Lease lapsed and then deletes that Lease, and
// returns how many Sessions it closed. A replica whose Sessions could not
// all be closed keeps its Lease, and is tried again next sweep.
func (c *Controller) Sweep(ctx context.Context) (int, error) {
	holders, err := c.observer.Refresh(ctx)
	if err != nil {
		return 0, err
	}
	servers, err := c.sessions.OpenServers(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	closed := 0
	for _, replica := range union(holders, servers) {
		if replica == "" || replica == c.opts.Replica || !c.observer.Lapsed(replica) {
			continue
		}
		if slices.Contains(servers, replica) {
			reason := fmt.Sprintf("janus-apiserver replica %s stopped renewing its heartbeat Lease and was counted gone after %s; the session was cut", replica, c.opts.Duration)
			n, err := c.sessions.CloseOfReplica(ctx, replica, reason, c.opts.Ended)
			closed += n
			lostSessions.Add(float64(n))
			if n > 0 {
				klog.InfoS("Closed the sessions of a lost replica", "replica", replica, "sessions", n)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := c.observer.Forget(ctx, replica); err != nil {
			errs = append(errs, err)
			continue
		}
		lostReplicas.Inc()
		klog.InfoS("Counted a replica gone: its heartbeat Lease lapsed", "replica", replica)
	}
	return closed, utilerrors.NewAggregate(errs)
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, s := range b {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
