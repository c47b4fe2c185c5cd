package replicalease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/infroware/janus/pkg/replicalease"
)

// replicaClient is a client of the central cluster as user name, who may
// use the Leases of namespace ns while the RoleBinding it returns exists.
func replicaClient(t *testing.T, ctx context.Context, name string) (kubernetes.Interface, string, *rbacv1.RoleBinding) {
	t.Helper()
	c := central.Get(t)
	ns, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "replicas-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "replica-leases"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "create", "update", "delete"}}},
	}
	if _, err := c.Admin.RbacV1().Roles(ns.Name).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "replica-leases"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: name}},
	}
	if _, err := c.Admin.RbacV1().RoleBindings(ns.Name).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	config := rest.CopyConfig(c.AdminConfig)
	config.Impersonate = rest.ImpersonationConfig{UserName: name}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return client, ns.Name, binding
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond) // polling the API server
	}
}

func TestHeartbeatRenewsItsLeaseAndDeletesItAtStop(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client, ns, _ := replicaClient(t, ctx, "janus-a")
	leases := client.CoordinationV1().Leases(ns)
	hb := replicalease.NewHeartbeat(replicalease.HeartbeatConfig{Leases: leases, Replica: "janus-a", Duration: 3 * time.Second})
	running, stop := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		hb.Run(running)
		close(stopped)
	}()

	name := replicalease.LeaseName("janus-a")
	var first *coordinationv1.Lease
	waitFor(t, 10*time.Second, "the Lease made", func() bool {
		var err error
		first, err = leases.Get(ctx, name, metav1.GetOptions{})
		return err == nil
	})
	if ptr.Deref(first.Spec.HolderIdentity, "") != "janus-a" || ptr.Deref(first.Spec.LeaseDurationSeconds, 0) != 3 || first.Labels[replicalease.Label] != "true" {
		t.Errorf("Lease %s: holder %v, duration %v, labels %v", name, first.Spec.HolderIdentity, first.Spec.LeaseDurationSeconds, first.Labels)
	}
	waitFor(t, 10*time.Second, "the Lease renewed", func() bool {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first.Spec.RenewTime.Time)
	})
	if !hb.Renewed() {
		t.Error("Renewed is false after renewals")
	}

	stop()
	<-stopped
	if _, err := leases.Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Lease after a clean stop: %v, want it deleted", err)
	}
}

func TestHeartbeatThatCannotRenewGoesStaleAtHalfItsDurationAndFreshAgain(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	client, ns, binding := replicaClient(t, ctx, "janus-b")
	admin := central.Get(t).Admin
	const duration = 6 * time.Second
	var staleFor atomic.Int64
	stale, fresh := make(chan struct{}, 1), make(chan struct{}, 1)
	hb := replicalease.NewHeartbeat(replicalease.HeartbeatConfig{
		Leases: client.CoordinationV1().Leases(ns), Replica: "janus-b", Duration: duration,
		OnStale: func(d time.Duration) { staleFor.Store(int64(d)); stale <- struct{}{} },
		OnFresh: func() { fresh <- struct{}{} },
	})
	go hb.Run(ctx)
	waitFor(t, 10*time.Second, "a first renewal", hb.Renewed)

	// The replica loses the right to renew: every renewal is refused.
	if err := admin.RbacV1().RoleBindings(ns).Delete(ctx, binding.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	lostAt := time.Now()
	select {
	case <-stale:
	case <-time.After(30 * time.Second):
		t.Fatal("no OnStale within 30s of renewals being refused")
	}
	if d := time.Duration(staleFor.Load()); d < duration/2 || d >= duration {
		t.Errorf("OnStale after %s unrenewed, want from %s and before %s (the duration)", d, duration/2, duration)
	}
	if waited := time.Since(lostAt); waited >= duration {
		t.Errorf("OnStale came %s after renewals failed: an observer could already count the replica gone", waited)
	}

	binding.ResourceVersion = ""
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fresh:
	case <-time.After(30 * time.Second):
		t.Fatal("no OnFresh within 30s of renewals being allowed again")
	}
}

func TestLeaseNameIsTheReplicasNameWhenItCanBe(t *testing.T) {
	for replica, want := range map[string]string{
		"janus-apiserver-7d9f8-x2k": "janus-replica-janus-apiserver-7d9f8-x2k",
		"Janus_A":                   "",
	} {
		got := replicalease.LeaseName(replica)
		if want != "" && got != want {
			t.Errorf("LeaseName(%q) = %q, want %q", replica, got, want)
		}
		if want == "" && (got == "janus-replica-"+replica || len(got) != len("janus-replica-")+16) {
			t.Errorf("LeaseName(%q) = %q, want a digest of it", replica, got)
		}
	}
	if a, b := replicalease.LeaseName("Janus_A"), replicalease.LeaseName("Janus_B"); a == b {
		t.Errorf("two replicas share Lease %s", a)
	}
}
