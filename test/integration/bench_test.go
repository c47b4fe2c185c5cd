package integration

import (
	"context"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/test/integration/framework"
)

// BenchmarkCreateApproveGet measures one request's round trips through the
// server — alice creates, bob approves, alice reads it back — on each
// backend, reporting p50 and p99 of the whole sequence.
//
//	go test ./test/integration -run '^$' -bench CreateApproveGet -benchtime 300x
func BenchmarkCreateApproveGet(b *testing.B) {
	for _, backend := range framework.Backends {
		b.Run(string(backend), func(b *testing.B) {
			s := framework.StartServer(b, backend, framework.AuthorizerFromArtifacts(b, demoBindings))
			adminClient, aliceClient, bobClient := s.Client(b, admin), s.Client(b, alice), s.Client(b, bob)
			bg := context.Background()
			if _, err := adminClient.JanusV1alpha1().Clusters().Create(bg, &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: v1alpha1.ClusterSpec{Approval: v1alpha1.ApprovalPolicy{Required: 1}}}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
			samples := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				start := time.Now()
				ar, err := aliceClient.JanusV1alpha1().AccessRequests().Create(bg, request("dev", time.Hour, "payments"), metav1.CreateOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bobClient.JanusV1alpha1().AccessRequests().Approve(bg, ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
					b.Fatal(err)
				}
				got, err := aliceClient.JanusV1alpha1().AccessRequests().Get(bg, ar.Name, metav1.GetOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if got.Status.Phase != v1alpha1.AccessRequestApproved {
					b.Fatalf("phase %s after approval", got.Status.Phase)
				}
				samples = append(samples, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(samples)
			b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(samples[(len(samples)*99)/100].Microseconds())/1000, "p99-ms")
		})
	}
}
