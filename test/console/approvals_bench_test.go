package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// loadRequester is the requester of the benchmark's requests: not a demo
// user, so the other tests' pages do not show them.
const loadRequester = "load-requester"

// BenchmarkApprovalsPageWith1000Requests: how long bob waits for his
// Approvals page (list as bob, one access review per cluster, render)
// with 1,000 pending requests in his queue; p50 and p99 over the
// iterations.
func BenchmarkApprovalsPageWith1000Requests(b *testing.B) {
	const pending = 1000
	ctx := context.Background()
	names := fillQueue(b, ctx, pending)
	b.Cleanup(func() { emptyQueue(b, names) })

	bob := newBrowser(b, "bob")
	bob.signIn("bob")
	session := bob.sessionCookie()
	if session == nil {
		b.Fatal("bob has no session cookie after signing in")
	}
	client := &http.Client{Timeout: time.Minute}
	get := func() (time.Duration, int) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, consoleURL+"/approvals", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		began := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("GET /approvals: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(began)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET /approvals: %d, %v", resp.StatusCode, err)
		}
		return took, strings.Count(string(body), `data-testid="approve-`)
	}
	if _, n := get(); n < pending {
		b.Fatalf("bob's page offers %d approve buttons, want at least %d", n, pending)
	}

	var took []time.Duration
	for b.Loop() {
		d, _ := get()
		took = append(took, d)
	}
	slices.Sort(took)
	q := func(p float64) float64 {
		return float64(took[min(len(took)-1, int(p*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(pending, "requests")
}

// fillQueue makes sure n requests of loadRequester for dev are pending,
// and returns their names.
func fillQueue(b *testing.B, ctx context.Context, n int) []string {
	b.Helper()
	admin, err := bed.RESTConfigFor("admin")
	if err != nil {
		b.Fatal(err)
	}
	admin = rest.CopyConfig(admin)
	admin.QPS, admin.Burst = -1, 0
	kube, err := kubernetes.NewForConfig(admin)
	if err != nil {
		b.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "janus-bench:" + loadRequester},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "janus-requester"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: loadRequester}},
	}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatalf("binding janus-requester to %s: %v", loadRequester, err)
	}
	as := rest.CopyConfig(admin)
	as.Impersonate = rest.ImpersonationConfig{UserName: loadRequester, Groups: []string{"system:authenticated"}}
	requester, err := versioned.NewForConfig(as)
	if err != nil {
		b.Fatal(err)
	}
	list, err := requester.JanusV1alpha1().AccessRequests().List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(
			fields.OneTermEqualSelector(v1alpha1.FieldRequesterUsername, loadRequester),
			fields.OneTermEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestPending))).String(),
	})
	if err != nil {
		b.Fatalf("listing %s's requests: %v", loadRequester, err)
	}
	var (
		mu    sync.Mutex
		names []string
	)
	for _, ar := range list.Items {
		names = append(names, ar.Name)
	}
	began := time.Now()
	missing := n - len(names)
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ar := &v1alpha1.AccessRequest{
					ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"},
					Spec: v1alpha1.AccessRequestSpec{
						Cluster: "dev", Namespaces: []string{"payments"},
						Duration: metav1.Duration{Duration: time.Hour},
						Reason:   fmt.Sprintf("load for the approvals page, %d of %d", i+1, n),
					},
				}
				created, err := requester.JanusV1alpha1().AccessRequests().Create(ctx, ar, metav1.CreateOptions{})
				if err != nil {
					select {
					case errs <- fmt.Errorf("creating request %d: %w", i, err):
					default:
					}
					continue
				}
				mu.Lock()
				names = append(names, created.Name)
				mu.Unlock()
			}
		}()
	}
	for i := range max(missing, 0) {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.Logf("%d pending requests of %s (%d created in %s)", len(names), loadRequester, max(missing, 0), time.Since(began).Round(time.Millisecond))
	return names
}

// emptyQueue deletes the benchmark's requests (they never held a grant, so
// they go at once) and its binding.
func emptyQueue(b *testing.B, names []string) {
	admin, err := bed.RESTConfigFor("admin")
	if err != nil {
		b.Error(err)
		return
	}
	admin = rest.CopyConfig(admin)
	admin.QPS, admin.Burst = -1, 0
	janus, err := versioned.NewForConfig(admin)
	if err != nil {
		b.Error(err)
		return
	}
	ctx := context.Background()
	work := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := janus.JanusV1alpha1().AccessRequests().Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					b.Errorf("deleting %s: %v", name, err)
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	if kube, err := kubernetes.NewForConfig(admin); err == nil {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(ctx, "janus-bench:"+loadRequester, metav1.DeleteOptions{})
	}
}
