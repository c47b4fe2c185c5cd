package e2e

import (
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The latency half of the soak (issue 14), measured from outside: the
// POSTs go through the central kube-apiserver's aggregator, and a removal
// counts when the target cluster's own watch reports the grant's objects
// deleted.
//
//	go test ./test/e2e -run '^$' -bench 'RevokeToGrantRemoved' -benchtime 100x
//	go test ./test/e2e -run '^$' -bench 'ExpiryOfAHundredInOneSecond' -benchtime 1x

// BenchmarkRevokeToGrantRemoved measures from carol's revoke POST until
// the target cluster saw the ServiceAccount and the RoleBinding of the
// grant deleted.
func BenchmarkRevokeToGrantRemoved(b *testing.B) {
	removals := watchGrantRemovals(b, devCluster(b))
	bob, carol := janusAs(b, "bob"), janusAs(b, "carol")
	var samples []time.Duration
	for b.Loop() {
		ar := newRequest(b, time.Hour, "payments")
		if _, err := bob.JanusV1alpha1().AccessRequests().Approve(bg(b), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		waitForPhase(b, ar.Name, v1alpha1.AccessRequestActive, time.Minute)
		start := time.Now()
		if _, err := carol.JanusV1alpha1().AccessRequests().Revoke(bg(b), ar.Name, &v1alpha1.Revocation{Reason: "benchmark"}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		removed := removals.waitRemoved(b, []string{ar.Name}, time.Minute)
		samples = append(samples, removed[ar.Name].Sub(start))
	}
	reportPercentiles(b, samples)
}

// sameSecondExpiries is how many requests BenchmarkExpiryOfAHundredInOneSecond
// lets expire at once.
const sameSecondExpiries = 100

// BenchmarkExpiryOfAHundredInOneSecond activates 100 requests whose
// expiresAt is one and the same second and reports how late after it the
// target cluster saw each grant's last object deleted. The approvers set
// each duration so that the expiry lands on that second (an approval may
// shorten or lengthen the requested duration); a request activated in
// another second than it was approved in misses it, and same-second says
// how many shared it.
func BenchmarkExpiryOfAHundredInOneSecond(b *testing.B) {
	removals := watchGrantRemovals(b, devCluster(b))
	bob := janusAs(b, "bob")
	for b.Loop() {
		names := make([]string, sameSecondExpiries)
		for i := range names {
			names[i] = newRequest(b, time.Hour, "payments").Name
		}
		// Far enough ahead for every approval and activation to happen
		// before it, and past the testbed's 5 s minimum duration.
		expiry := time.Now().Truncate(time.Second).Add(15 * time.Second)
		var wg sync.WaitGroup
		errs := make(chan error, len(names))
		slots := make(chan struct{}, 16)
		for _, name := range names {
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				d := expiry.Sub(time.Now().Truncate(time.Second))
				_, err := bob.JanusV1alpha1().AccessRequests().Approve(bg(b), name, &v1alpha1.Approval{Duration: &metav1.Duration{Duration: d}}, metav1.CreateOptions{})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		expiresAt := map[string]time.Time{}
		sameSecond := 0
		for _, name := range names {
			ar := waitForPhase(b, name, v1alpha1.AccessRequestActive, time.Minute)
			expiresAt[name] = ar.Status.ExpiresAt.Time
			if expiresAt[name].Equal(expiry) {
				sameSecond++
			}
		}
		if time.Now().After(expiry) {
			b.Fatalf("activating %d requests took until after their expiry %s", len(names), expiry.Format(time.RFC3339))
		}
		removed := removals.waitRemoved(b, names, time.Minute)
		samples := make([]time.Duration, 0, len(names))
		for _, name := range names {
			samples = append(samples, removed[name].Sub(expiresAt[name]))
		}
		reportPercentiles(b, samples)
		b.ReportMetric(float64(sameSecond), "same-second")
	}
}
