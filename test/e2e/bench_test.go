package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The lifecycle benchmarks run against the e2e testbed: central
// kube-apiserver, aggregated janus-apiserver, target cluster and agent,
// all real processes on loopback.
//
//	go test ./test/e2e -run '^$' -bench 'ApproveToActive|ExpiryToGrantRemoved' -benchtime 100x

// BenchmarkApproveToActive measures from bob's approve POST until the
// request is Active, which means the agent has created the grant in the
// target cluster.
func BenchmarkApproveToActive(b *testing.B) {
	alice, bob, carol := janusAs(b, "alice"), janusAs(b, "bob"), janusAs(b, "carol")
	var samples []time.Duration
	for b.Loop() {
		ar := newRequest(b, time.Hour, "payments")
		w, err := alice.JanusV1alpha1().AccessRequests().Watch(bg(b), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", ar.Name).String(), ResourceVersion: ar.ResourceVersion,
		})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := bob.JanusV1alpha1().AccessRequests().Approve(bg(b), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitInWatch(b, w, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
		samples = append(samples, time.Since(start))
		w.Stop()
		if _, err := carol.JanusV1alpha1().AccessRequests().Revoke(bg(b), ar.Name, &v1alpha1.Revocation{Reason: "benchmark"}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, samples)
}

// BenchmarkExpiryToGrantRemoved approves b.N short requests, then measures
// for each how long after its expiresAt the target cluster saw its
// ServiceAccount deleted (the last object of a grant to go is observed by a
// watch on the target).
func BenchmarkExpiryToGrantRemoved(b *testing.B) {
	target := devCluster(b)
	bob := janusAs(b, "bob")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w, err := target.CoreV1().ServiceAccounts("janus").Watch(ctx, metav1.ListOptions{LabelSelector: requestLabel})
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	deleted := map[string]time.Time{}
	go func() {
		for ev := range w.ResultChan() {
			if ev.Type != watch.Deleted {
				continue
			}
			obj, _ := ev.Object.(metav1.Object)
			if obj == nil {
				continue
			}
			mu.Lock()
			deleted[obj.GetLabels()[requestLabel]] = time.Now()
			mu.Unlock()
		}
	}()

	n := b.N
	b.ResetTimer()
	names := make([]string, n)
	for i := range n {
		names[i] = newRequest(b, 5*time.Second, "payments").Name
	}
	for _, name := range names {
		if _, err := bob.JanusV1alpha1().AccessRequests().Approve(bg(b), name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	expiresAt := map[string]time.Time{}
	for _, name := range names {
		ar := waitForPhase(b, name, v1alpha1.AccessRequestActive, time.Minute)
		expiresAt[name] = ar.Status.ExpiresAt.Time
	}
	var samples []time.Duration
	for _, name := range names {
		waitForNoGrant(b, name, time.Minute)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(samples) < n && time.Now().Before(deadline) {
		samples = samples[:0]
		mu.Lock()
		for _, name := range names {
			if at, ok := deleted[name]; ok {
				samples = append(samples, at.Sub(expiresAt[name]))
			}
		}
		mu.Unlock()
		if len(samples) < n {
			time.Sleep(20 * time.Millisecond) // the watch goroutine records the last deletions
		}
	}
	if len(samples) < n {
		b.Fatalf("saw %d of %d grants deleted", len(samples), n)
	}
	reportPercentiles(b, samples)
}

func waitInWatch(b *testing.B, w watch.Interface, done func(*v1alpha1.AccessRequest) bool) {
	b.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			if ar, isAR := ev.Object.(*v1alpha1.AccessRequest); isAR && done(ar) {
				return
			}
		case <-timeout:
			b.Fatal("no matching event within a minute")
		}
	}
}

func reportPercentiles(b *testing.B, samples []time.Duration) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	pct := func(p int) float64 {
		i := (len(samples)*p + 99) / 100
		if i > 0 {
			i--
		}
		return float64(samples[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(50), "p50-ms")
	b.ReportMetric(pct(99), "p99-ms")
	b.ReportMetric(float64(samples[len(samples)-1].Microseconds())/1000, "max-ms")
}
