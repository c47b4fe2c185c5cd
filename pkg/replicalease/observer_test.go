package replicalease_test

import (
	"context"
	"slices"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/replicalease"
)

func TestObserverCountsGoneOnlyAReplicaWhoseLeaseStoppedChanging(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client, ns, _ := replicaClient(t, ctx, "janus-a")
	leases := client.CoordinationV1().Leases(ns)
	// janus-a renews; janus-b's Lease stays as its kill -9 left it.
	go replicalease.NewHeartbeat(replicalease.HeartbeatConfig{Leases: leases, Replica: "janus-a", Duration: 3 * time.Second}).Run(ctx)
	dead := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: replicalease.LeaseName("janus-b"), Labels: map[string]string{replicalease.Label: "true"}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("janus-b"), LeaseDurationSeconds: ptr.To[int32](3), RenewTime: ptr.To(metav1.NowMicro())},
	}
	dead, err := leases.Create(ctx, dead, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Someone else's Lease in the namespace is not a replica's.
	if _, err := leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "janus-lifecycle-controller"}, Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("janus-a")}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	clock := testingclock.NewFakeClock(time.Now())
	o := replicalease.NewObserver(leases, 3*time.Second, clock)
	var holders []string
	waitFor(t, 10*time.Second, "both replicas' Leases listed", func() bool {
		holders, err = o.Refresh(ctx)
		slices.Sort(holders)
		return err == nil && slices.Equal(holders, []string{"janus-a", "janus-b"})
	})
	for _, r := range []string{"janus-a", "janus-b", "janus-never"} {
		if o.Lapsed(r) {
			t.Errorf("%s counted gone before a whole duration passed", r)
		}
	}

	// A whole duration on the observer's clock, during which janus-a's
	// Lease changed and janus-b's did not.
	seen, err := leases.Get(ctx, replicalease.LeaseName("janus-a"), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "janus-a's Lease renewed", func() bool {
		l, err := leases.Get(ctx, seen.Name, metav1.GetOptions{})
		return err == nil && l.ResourceVersion != seen.ResourceVersion
	})
	clock.Step(3 * time.Second)
	if _, err := o.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if o.Lapsed("janus-a") {
		t.Error("janus-a, which renews, counted gone")
	}
	if !o.Lapsed("janus-b") {
		t.Error("janus-b, unchanged for a whole duration, not counted gone")
	}
	if o.Lapsed("janus-never") {
		t.Error("a replica whose Lease was never seen counted gone")
	}

	// janus-b comes back just before it is forgotten: its Lease stays.
	dead.Spec.RenewTime = ptr.To(metav1.NowMicro())
	if _, err := leases.Update(ctx, dead, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := o.Forget(ctx, "janus-b"); err != nil {
		t.Fatalf("forgetting janus-b, renewed meanwhile: %v", err)
	}
	if _, err := leases.Get(ctx, dead.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("janus-b's renewed Lease after Forget: %v, want it kept", err)
	}
	if _, err := o.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if o.Lapsed("janus-b") {
		t.Error("janus-b counted gone right after it renewed")
	}

	// It stops again, for good: counted gone, and its Lease deleted.
	clock.Step(3 * time.Second)
	if _, err := o.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !o.Lapsed("janus-b") {
		t.Fatal("janus-b not counted gone a duration after its last renewal")
	}
	if err := o.Forget(ctx, "janus-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := leases.Get(ctx, dead.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("janus-b's Lease after Forget: %v, want it deleted", err)
	}
	if _, err := leases.Get(ctx, "janus-lifecycle-controller", metav1.GetOptions{}); err != nil {
		t.Errorf("the leader election's Lease: %v", err)
	}
}
