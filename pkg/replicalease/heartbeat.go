package replicalease

import (
	"context"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// DefaultDuration is how long a replica's Lease lasts unrenewed before
// the others count the replica gone.
const DefaultDuration = time.Minute

// releaseTimeout bounds the delete of the Lease when the replica stops.
const releaseTimeout = 5 * time.Second

// HeartbeatConfig is what a Heartbeat is built from.
type HeartbeatConfig struct {
	// Leases are the central cluster's Leases in the replicas' namespace.
	Leases coordinationclient.LeaseInterface
	// Replica is this replica's name (--replica-name), the Lease's
	// holderIdentity.
	Replica string
	// Duration is the Lease's duration; it is renewed every sixth of it.
	Duration time.Duration
	// OnStale is called once renewals have failed for half of Duration,
	// before any Observer may count this replica gone: the replica must
	// stop doing what only a live replica may (relaying sessions). OnFresh
	// is called when a renewal succeeds after OnStale. Either may be nil.
	OnStale func(unrenewedFor time.Duration)
	OnFresh func()
	// Clock is the real clock unless a test sets it.
	Clock clock.WithTicker
}

// Heartbeat keeps one replica's Lease renewed.
type Heartbeat struct {
	cfg HeartbeatConfig

	mu sync.Mutex
	// renewed is when the last renewal succeeded, or the start; stale is
	// whether OnStale was called since; once is whether any renewal has.
	renewed time.Time
	stale   bool
	once    bool
}

// NewHeartbeat returns the heartbeat of cfg.Replica; Run starts it.
func NewHeartbeat(cfg HeartbeatConfig) *Heartbeat {
	if cfg.Duration <= 0 {
		cfg.Duration = DefaultDuration
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	registerMetrics()
	return &Heartbeat{cfg: cfg, renewed: cfg.Clock.Now()}
}

// RenewInterval is the time between renewals.
func (h *Heartbeat) RenewInterval() time.Duration {
	return max(h.cfg.Duration/6, 100*time.Millisecond)
}

// Renewed reports whether a renewal has succeeded yet (for readiness: a
// replica without a Lease could be counted gone).
func (h *Heartbeat) Renewed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.once
}

// Run renews the Lease at once and then every RenewInterval until ctx is
// done, and then deletes it: a replica that stops cleanly has closed its
// own sessions, and its peers need not wait for it.
func (h *Heartbeat) Run(ctx context.Context) {
	klog.InfoS("Starting the replica's heartbeat Lease", "replica", h.cfg.Replica, "lease", LeaseName(h.cfg.Replica), "duration", h.cfg.Duration)
	ticker := h.cfg.Clock.NewTicker(h.RenewInterval())
	defer ticker.Stop()
	for {
		h.beat(ctx)
		select {
		case <-ctx.Done():
			h.release()
			return
		case <-ticker.C():
		}
	}
}

// beat renews the Lease once and calls OnStale or OnFresh when the
// heartbeat changes state.
func (h *Heartbeat) beat(ctx context.Context) {
	attempt, cancel := context.WithTimeout(ctx, h.RenewInterval())
	err := h.renew(attempt)
	cancel()
	if ctx.Err() != nil {
		return
	}
	now := h.cfg.Clock.Now()
	h.mu.Lock()
	var call func()
	switch {
	case err == nil:
		h.renewed, h.once = now, true
		if h.stale {
			h.stale = false
			heartbeatStale.Set(0)
			call = h.cfg.OnFresh
			klog.InfoS("The replica's heartbeat Lease is renewed again", "replica", h.cfg.Replica)
		}
	case !h.stale && now.Sub(h.renewed) >= h.cfg.Duration/2:
		h.stale = true
		heartbeatStale.Set(1)
		since := now.Sub(h.renewed)
		if h.cfg.OnStale != nil {
			call = func() { h.cfg.OnStale(since) }
		}
		klog.ErrorS(err, "The replica's heartbeat Lease could not be renewed for half its duration; its peers may soon count it gone", "replica", h.cfg.Replica, "unrenewedFor", since, "duration", h.cfg.Duration)
	default:
		klog.ErrorS(err, "Renewing the replica's heartbeat Lease; retrying", "replica", h.cfg.Replica, "in", h.RenewInterval())
	}
	h.mu.Unlock()
	if call != nil {
		call()
	}
}

// renew creates the Lease or moves its renewTime to now.
func (h *Heartbeat) renew(ctx context.Context) error {
	name := LeaseName(h.cfg.Replica)
	now := metav1.NewMicroTime(h.cfg.Clock.Now())
	seconds := int32(h.cfg.Duration.Round(time.Second) / time.Second)
	lease, err := h.cfg.Leases.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{Label: "true"}},
			Spec: coordinationv1.LeaseSpec{
				HolderIdentity: ptr.To(h.cfg.Replica), LeaseDurationSeconds: ptr.To(max(seconds, 1)),
				AcquireTime: &now, RenewTime: &now,
			},
		}
		if _, err := h.cfg.Leases.Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Lease %s: %w", name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading Lease %s: %w", name, err)
	}
	lease = lease.DeepCopy()
	if lease.Labels == nil {
		lease.Labels = map[string]string{}
	}
	lease.Labels[Label] = "true"
	lease.Spec.HolderIdentity = ptr.To(h.cfg.Replica)
	lease.Spec.LeaseDurationSeconds = ptr.To(max(seconds, 1))
	lease.Spec.RenewTime = &now
	if _, err := h.cfg.Leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("renewing Lease %s: %w", name, err)
	}
	return nil
}

// release deletes the Lease, if it is still this replica's.
func (h *Heartbeat) release() {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	name := LeaseName(h.cfg.Replica)
	lease, err := h.cfg.Leases.Get(ctx, name, metav1.GetOptions{})
	if err == nil && ptr.Deref(lease.Spec.HolderIdentity, "") == h.cfg.Replica {
		err = h.cfg.Leases.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion}})
	}
	if err != nil && !apierrors.IsNotFound(err) {
		klog.ErrorS(err, "Deleting the replica's heartbeat Lease at stop; the others will count the replica gone once it lapses", "replica", h.cfg.Replica, "lease", name)
		return
	}
	klog.InfoS("Deleted the replica's heartbeat Lease", "replica", h.cfg.Replica, "lease", name)
}
