package e2e

import (
	"context"
	"fmt"
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

// BenchmarkExpiryOfAHundredInOneSecond activates 100 requests, extends
// each so that all of them expire in one and the same second, and
// reports how late after it the target cluster saw each grant's last
// object deleted.
func BenchmarkExpiryOfAHundredInOneSecond(b *testing.B) {
	removals := watchGrantRemovals(b, devCluster(b))
	bob := janusAs(b, "bob")
	for b.Loop() {
		names := make([]string, sameSecondExpiries)
		for i := range names {
			names[i] = newRequest(b, 10*time.Second, "payments").Name
		}
		parallel(b, names, func(ctx context.Context, name string) error {
			_, err := bob.JanusV1alpha1().AccessRequests().Approve(ctx, name, &v1alpha1.Approval{}, metav1.CreateOptions{})
			return err
		})
		var latest time.Time
		expiresAt := map[string]time.Time{}
		for _, name := range names {
			ar := waitForPhase(b, name, v1alpha1.AccessRequestActive, time.Minute)
			expiresAt[name] = ar.Status.ExpiresAt.Time
			if expiresAt[name].After(latest) {
				latest = expiresAt[name]
			}
		}
		// Expiry times are whole seconds, so each extension lands exactly.
		expiry := latest.Add(5 * time.Second)
		parallel(b, names, func(ctx context.Context, name string) error {
			ar, err := bob.JanusV1alpha1().AccessRequests().Extend(ctx, name, &v1alpha1.Extension{
				Duration: metav1.Duration{Duration: expiry.Sub(expiresAt[name])}, Reason: "soak: expire together",
			}, metav1.CreateOptions{})
			if err == nil && !ar.Status.ExpiresAt.Time.Equal(expiry) {
				err = fmt.Errorf("extended %s until %s, want %s", name, ar.Status.ExpiresAt.Time, expiry)
			}
			return err
		})
		if time.Now().After(expiry) {
			b.Fatalf("activating and extending %d requests took until after their expiry %s", len(names), expiry.Format(time.RFC3339))
		}
		removed := removals.waitRemoved(b, names, time.Minute)
		samples := make([]time.Duration, 0, len(names))
		for _, name := range names {
			samples = append(samples, removed[name].Sub(expiry))
		}
		reportPercentiles(b, samples)
	}
}
