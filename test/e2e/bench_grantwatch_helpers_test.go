package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"
)

// objectsPerGrant is what a one-namespace grant holds in the target: its
// ServiceAccount and one RoleBinding.
const objectsPerGrant = 2

// grantRemovals follows, with watches on the target cluster, when the
// objects of every request's grant are deleted: what the benchmarks time
// a removal by, from outside Janus.
type grantRemovals struct {
	mu       sync.Mutex
	removals map[string]*grantRemoval
	changed  chan struct{}
	// watchErr is the first error a watch reported.
	watchErr error
}

// grantRemoval is what the watches saw of one request's grant going.
type grantRemoval struct {
	deleted int
	last    time.Time
}

// watchGrantRemovals starts watching the ServiceAccounts and RoleBindings
// Janus labels in target, from now on, until the benchmark ends.
func watchGrantRemovals(b *testing.B, target kubernetes.Interface) *grantRemovals {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	g := &grantRemovals{removals: map[string]*grantRemoval{}, changed: make(chan struct{}, 1)}
	sel := metav1.ListOptions{LabelSelector: requestLabel}
	sas, err := target.CoreV1().ServiceAccounts("").List(ctx, sel)
	if err != nil {
		b.Fatal(err)
	}
	rbs, err := target.RbacV1().RoleBindings("").List(ctx, sel)
	if err != nil {
		b.Fatal(err)
	}
	// Retry watchers resume from the last resourceVersion they saw when
	// the target closes a watch, so a long benchmark loses no deletion.
	saWatch, err := watchtools.NewRetryWatcherWithContext(ctx, sas.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = requestLabel
			return target.CoreV1().ServiceAccounts("").Watch(ctx, o)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	rbWatch, err := watchtools.NewRetryWatcherWithContext(ctx, rbs.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = requestLabel
			return target.RbacV1().RoleBindings("").Watch(ctx, o)
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	go g.record(saWatch)
	go g.record(rbWatch)
	return g
}

func (g *grantRemovals) record(w watch.Interface) {
	for ev := range w.ResultChan() {
		if ev.Type == watch.Error {
			g.mu.Lock()
			g.watchErr = fmt.Errorf("the target's watch failed: %v", ev.Object)
			g.mu.Unlock()
			continue
		}
		obj, _ := ev.Object.(metav1.Object)
		if ev.Type != watch.Deleted || obj == nil {
			continue
		}
		at := time.Now()
		request := obj.GetLabels()[requestLabel]
		g.mu.Lock()
		r := g.removals[request]
		if r == nil {
			r = &grantRemoval{}
			g.removals[request] = r
		}
		r.deleted++
		if at.After(r.last) {
			r.last = at
		}
		g.mu.Unlock()
		select {
		case g.changed <- struct{}{}:
		default:
		}
	}
}

// waitRemoved waits until every object of each named grant was seen
// deleted, and returns when the last of each went.
func (g *grantRemovals) waitRemoved(b *testing.B, names []string, timeout time.Duration) map[string]time.Time {
	b.Helper()
	deadline := time.After(timeout)
	for {
		done := map[string]time.Time{}
		g.mu.Lock()
		for _, name := range names {
			if r := g.removals[name]; r != nil && r.deleted >= objectsPerGrant {
				done[name] = r.last
			}
		}
		g.mu.Unlock()
		if len(done) == len(names) {
			return done
		}
		select {
		case <-g.changed:
		case <-deadline:
			g.mu.Lock()
			err := g.watchErr
			g.mu.Unlock()
			b.Fatalf("saw every object of %d of %d grants deleted within %s (watch error: %v)", len(done), len(names), timeout, err)
		}
	}
}

// removedAt is when the watches saw the last object of the request's
// grant deleted, if they saw every one go.
func (g *grantRemovals) removedAt(name string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.removals[name]
	if r == nil || r.deleted < objectsPerGrant {
		return time.Time{}, false
	}
	return r.last, true
}
