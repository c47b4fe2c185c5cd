package e2e

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
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
		samples = append(samples, approveToActive(b, alice, bob, carol))
	}
	reportPercentiles(b, samples)
}

// approveToActiveSamples is n approve → Active latencies on dev.
func approveToActiveSamples(b *testing.B, n int) []time.Duration {
	alice, bob, carol := janusAs(b, "alice"), janusAs(b, "bob"), janusAs(b, "carol")
	samples := make([]time.Duration, 0, n)
	for range n {
		samples = append(samples, approveToActive(b, alice, bob, carol))
	}
	return samples
}

// approveToActive times one request of alice's from bob's approve until
// a watch through the aggregator sees it Active; carol revokes it after.
func approveToActive(b *testing.B, alice, bob, carol versioned.Interface) time.Duration {
	ar := newRequest(b, time.Hour, "payments")
	w, err := alice.JanusV1alpha1().AccessRequests().Watch(bg(b), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("metadata.name", ar.Name).String(), ResourceVersion: ar.ResourceVersion,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	if _, err := bob.JanusV1alpha1().AccessRequests().Approve(bg(b), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	waitInWatch(b, w, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })
	took := time.Since(start)
	if _, err := carol.JanusV1alpha1().AccessRequests().Revoke(bg(b), ar.Name, &v1alpha1.Revocation{Reason: "benchmark"}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	return took
}

// BenchmarkExpiryToGrantRemoved approves b.N short requests, then measures
// for each how long after its expiresAt the target cluster saw the last
// object of its grant (the ServiceAccount and every RoleBinding) deleted,
// as watches on the target observe them.
func BenchmarkExpiryToGrantRemoved(b *testing.B) {
	removals := watchGrantRemovals(b, devCluster(b))
	bob := janusAs(b, "bob")

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
	removed := removals.waitRemoved(b, names, time.Minute)
	samples := make([]time.Duration, 0, n)
	for _, name := range names {
		samples = append(samples, removed[name].Sub(expiresAt[name]))
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
