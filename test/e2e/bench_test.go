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
// for each how long after its expiresAt the target cluster saw the last
// object of its grant (the ServiceAccount and every RoleBinding) deleted,
// as watches on the target observe them.
func BenchmarkExpiryToGrantRemoved(b *testing.B) {
	target := devCluster(b)
	bob := janusAs(b, "bob")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sel := metav1.ListOptions{LabelSelector: requestLabel}
	saWatch, err := target.CoreV1().ServiceAccounts("").Watch(ctx, sel)
	if err != nil {
		b.Fatal(err)
	}
	rbWatch, err := target.RbacV1().RoleBindings("").Watch(ctx, sel)
	if err != nil {
		b.Fatal(err)
	}
	// removal is what the watches saw of one request's grant going.
	type removal struct {
		deleted int
		last    time.Time
	}
	var mu sync.Mutex
	removals := map[string]*removal{}
	record := func(w watch.Interface) {
		for ev := range w.ResultChan() {
			obj, _ := ev.Object.(metav1.Object)
			if ev.Type != watch.Deleted || obj == nil {
				continue
			}
			at := time.Now()
			mu.Lock()
			r := removals[obj.GetLabels()[requestLabel]]
			if r == nil {
				r = &removal{}
				removals[obj.GetLabels()[requestLabel]] = r
			}
			r.deleted++
			if at.After(r.last) {
				r.last = at
			}
			mu.Unlock()
		}
	}
	go record(saWatch)
	go record(rbWatch)

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
	// A grant is a ServiceAccount and a RoleBinding per namespace.
	const objectsPerGrant = 2
	expiresAt := map[string]time.Time{}
	for _, name := range names {
		ar := waitForPhase(b, name, v1alpha1.AccessRequestActive, time.Minute)
		expiresAt[name] = ar.Status.ExpiresAt.Time
	}
	for _, name := range names {
		waitForNoGrant(b, name, time.Minute)
	}
	// Every deletion has happened; the watches may still be delivering
	// the last of them.
	var samples []time.Duration
	deadline := time.Now().Add(10 * time.Second)
	for {
		samples = samples[:0]
		mu.Lock()
		for _, name := range names {
			if r := removals[name]; r != nil && r.deleted >= objectsPerGrant {
				samples = append(samples, r.last.Sub(expiresAt[name]))
			}
		}
		mu.Unlock()
		if len(samples) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // polling a map the watch goroutines fill, with a deadline
	}
	if len(samples) < n {
		b.Fatalf("saw every object of %d of %d grants deleted", len(samples), n)
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
