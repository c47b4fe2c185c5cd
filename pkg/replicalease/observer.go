package replicalease

import (
	"context"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
)

// Observer tells which replicas lapsed: whose Lease has shown no change
// (no renewal, or no Lease at all) for a whole Duration of the observer's
// own clock, counted from the first time it looked. Like leader election,
// it trusts no timestamp written by another machine, only what it saw
// change and when.
type Observer struct {
	leases   coordinationclient.LeaseInterface
	duration time.Duration
	clock    clock.PassiveClock

	mu sync.Mutex
	// seen is, by replica, the Lease last seen and when it last changed.
	seen map[string]*observation
}

// observation is what an Observer last saw of one replica's Lease.
type observation struct {
	// name, uid and version are the Lease's; version is "" while there is
	// none.
	name, uid, version string
	changed            time.Time
	// held is whether a Lease of the replica was ever seen.
	held bool
}

// NewObserver returns an observer of the replica Leases in leases, which
// counts a replica gone after duration without a change. clock is the
// real clock when nil.
func NewObserver(leases coordinationclient.LeaseInterface, duration time.Duration, clk clock.PassiveClock) *Observer {
	if duration <= 0 {
		duration = DefaultDuration
	}
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &Observer{leases: leases, duration: duration, clock: clk, seen: map[string]*observation{}}
}

// Refresh lists the replica Leases and notes which changed since the last
// look, and returns the replicas that hold one.
func (o *Observer) Refresh(ctx context.Context) ([]string, error) {
	list, err := o.leases.List(ctx, metav1.ListOptions{LabelSelector: Label})
	if err != nil {
		return nil, fmt.Errorf("listing the replicas' Leases: %w", err)
	}
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	held := map[string]bool{}
	var holders []string
	for i := range list.Items {
		lease := &list.Items[i]
		replica := ptr.Deref(lease.Spec.HolderIdentity, "")
		if replica == "" || held[replica] {
			continue
		}
		held[replica] = true
		holders = append(holders, replica)
		o.note(replica, &observation{name: lease.Name, uid: string(lease.UID), version: lease.ResourceVersion}, now)
	}
	for replica, seen := range o.seen {
		if !held[replica] && seen.version != "" {
			o.note(replica, &observation{}, now)
		}
	}
	return holders, nil
}

// note records what was seen of replica now; the change time moves only
// when the Lease did.
func (o *Observer) note(replica string, saw *observation, now time.Time) {
	old, ok := o.seen[replica]
	if ok && old.version == saw.version && old.uid == saw.uid {
		return
	}
	saw.changed = now
	saw.held = saw.version != "" || (ok && old.held)
	o.seen[replica] = saw
}

// Lapsed reports whether replica held a Lease and it has not changed for
// a whole duration since this observer first looked at it. A replica
// whose Lease it never saw is never counted gone: one of a version
// without heartbeats, during a rolling upgrade, is alive and relaying.
func (o *Observer) Lapsed(replica string) bool {
	now := o.clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	seen, ok := o.seen[replica]
	return ok && seen.held && now.Sub(seen.changed) >= o.duration
}

// Forget deletes the Lease of a lapsed replica, unless it changed since
// it was last seen (the replica came back), and stops following it.
func (o *Observer) Forget(ctx context.Context, replica string) error {
	o.mu.Lock()
	seen, ok := o.seen[replica]
	o.mu.Unlock()
	if !ok {
		return nil
	}
	if seen.version != "" {
		err := o.leases.Delete(ctx, seen.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(types.UID(seen.uid)), ResourceVersion: &seen.version}})
		switch {
		case apierrors.IsConflict(err):
			// Renewed since: the replica is back, and the next Refresh
			// sees it.
			return nil
		case err != nil && !apierrors.IsNotFound(err):
			return fmt.Errorf("deleting Lease %s of lapsed replica %s: %w", seen.name, replica, err)
		}
	}
	o.mu.Lock()
	if o.seen[replica] == seen {
		delete(o.seen, replica)
	}
	o.mu.Unlock()
	return nil
}
