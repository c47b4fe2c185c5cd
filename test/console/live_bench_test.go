package console

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// BenchmarkApproveToActiveInTheBrowser: alice keeps My requests open; in
// each iteration she requests access through the API, her open page shows
// it, bob approves it through the API, and the time until her page shows
// Active is measured from bob's call (approve-to-page) and from the API's
// report of Active (api-to-page, the console's own share); p50 and p99.
func BenchmarkApproveToActiveInTheBrowser(b *testing.B) {
	ctx := context.Background()
	alice := newBrowser(b, "alice")
	alice.watchPages()
	alice.signIn("alice")
	alice.open("/", `#live-content`)
	alice.liveReady()
	doc := alice.markDocument()
	bob := liveClient(b, "bob").JanusV1alpha1().AccessRequests()

	var approveToPage, apiToPage []time.Duration
	i := 0
	for b.Loop() {
		i++
		name := liveRequest(b, ctx, "alice", fmt.Sprintf("benchmark: approve to Active, %d", i))
		row := fmt.Sprintf(`[data-testid="request-%s"]`, name)
		alice.waitJS("the new request on alice's open page", fmt.Sprintf(`document.querySelector(%q) !== null`, row), 5*time.Second)
		alice.stampWhen(name, row+` [data-testid="phase"]`, "Active")
		watchCtx, stopWatch := context.WithCancel(ctx)
		clock := watchPhases(b, watchCtx, name, v1alpha1.AccessRequestActive)
		began := time.Now()
		if _, err := bob.Approve(ctx, name, &v1alpha1.Approval{Reason: "benchmark"}, metav1.CreateOptions{}); err != nil {
			b.Fatalf("approving %s as bob: %v", name, err)
		}
		apiActive := clock.at(b, v1alpha1.AccessRequestActive, 30*time.Second)
		shown := alice.stamp(name, time.Until(apiActive.Add(5*time.Second)))
		stopWatch()
		approveToPage = append(approveToPage, shown.Sub(began))
		apiToPage = append(apiToPage, shown.Sub(apiActive))
		liveWithdraw(b, "alice", name)
	}
	b.StopTimer()
	if !alice.sameDocument(doc) {
		b.Fatal("alice's page was reloaded during the benchmark; it should change in place")
	}
	for _, m := range []struct {
		unit string
		d    []time.Duration
	}{{"approve-to-page", approveToPage}, {"api-to-page", apiToPage}} {
		slices.Sort(m.d)
		q := func(p float64) float64 {
			return float64(m.d[min(len(m.d)-1, int(p*float64(len(m.d))))].Microseconds()) / 1000
		}
		b.ReportMetric(q(0.50), m.unit+"-p50-ms")
		b.ReportMetric(q(0.99), m.unit+"-p99-ms")
	}
	b.ReportMetric(0, "ns/op")
}
