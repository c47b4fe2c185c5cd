package lostreplica_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/controller/lostreplica"
	"github.com/infroware/janus/pkg/replicalease"
)

var central = &testenv.PackageCluster{Name: "central cluster"}

func TestMain(m *testing.M) { central.Main(m.Run) }

// sessions are Open Sessions by replica; closing a replica's may be made
// to fail.
type sessions struct {
	mu     sync.Mutex
	open   map[string]int
	closed []string
	fail   error
}

func (s *sessions) OpenServers(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r, n := range s.open {
		if n > 0 {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *sessions) CloseOfReplica(_ context.Context, server, reason string, _ func(context.Context, *janus.Session)) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return 0, s.fail
	}
	n := s.open[server]
	s.open[server] = 0
	s.closed = append(s.closed, server+": "+reason)
	return n, nil
}

func TestALostReplicasSessionsAreClosedAndItsLeaseDeleted(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := central.Get(t)
	ns, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "lost-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leases := c.Admin.CoordinationV1().Leases(ns.Name)
	// janus-c renews; janus-b's Lease stays as its kill -9 left it;
	// janus-old, of a version without heartbeats, has none.
	go replicalease.NewHeartbeat(replicalease.HeartbeatConfig{Leases: leases, Replica: "janus-c", Duration: 3 * time.Second}).Run(ctx)
	dead, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: replicalease.LeaseName("janus-b"), Labels: map[string]string{replicalease.Label: "true"}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("janus-b"), RenewTime: ptr.To(metav1.NowMicro())},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	open := &sessions{open: map[string]int{"janus-a": 1, "janus-b": 2, "janus-c": 1, "janus-old": 1}}
	clock := testingclock.NewFakeClock(time.Now())
	const duration = 3 * time.Second
	controller := lostreplica.New(replicalease.NewObserver(leases, duration, clock), open, lostreplica.Options{Replica: "janus-a", Duration: duration, Clock: clock})

	cLease := func() string {
		l, err := leases.Get(ctx, replicalease.LeaseName("janus-c"), metav1.GetOptions{})
		if err != nil {
			return ""
		}
		return l.ResourceVersion
	}
	deadline := time.Now().Add(10 * time.Second)
	for cLease() == "" {
		if time.Now().After(deadline) {
			t.Fatal("janus-c's heartbeat made no Lease within 10s")
		}
		time.Sleep(50 * time.Millisecond) // polling the API server
	}
	if n, err := controller.Sweep(ctx); n != 0 || err != nil {
		t.Fatalf("the first sweep closed %d (%v), want none: nobody was looked at for a duration yet", n, err)
	}
	// A whole duration on the Lease holder's clock, during which janus-c
	// renewed.
	seen := cLease()
	for cLease() == seen {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("janus-c's Lease was not renewed")
		}
		time.Sleep(50 * time.Millisecond) // polling the API server
	}
	clock.Step(duration)

	// Closing fails (the datastore is down): the Lease stays, for the next
	// sweep.
	open.fail = errors.New("datastore unreachable")
	if _, err := controller.Sweep(ctx); err == nil {
		t.Error("a sweep whose close failed returned no error")
	}
	if _, err := leases.Get(ctx, dead.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("janus-b's Lease after a failed close: %v, want it kept", err)
	}

	open.fail = nil
	n, err := controller.Sweep(ctx)
	if n != 2 || err != nil {
		t.Fatalf("the sweep closed %d (%v), want janus-b's 2", n, err)
	}
	if len(open.closed) != 1 || !slices.Contains(open.closed, "janus-b: janus-apiserver replica janus-b stopped renewing its heartbeat Lease and was counted gone after 3s; the session was cut") {
		t.Errorf("closed %q, want janus-b's sessions only", open.closed)
	}
	if _, err := leases.Get(ctx, dead.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("janus-b's Lease after its sessions closed: %v, want it deleted", err)
	}
	for _, r := range []string{"janus-a", "janus-c", "janus-old"} {
		if open.open[r] != 1 {
			t.Errorf("%s's session was closed", r)
		}
	}
}
