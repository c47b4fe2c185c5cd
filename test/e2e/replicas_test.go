package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// twoReplicas is a testbed of its own: replicas A and B of janus-apiserver
// on one PostgreSQL database, the agent of dev connected to B only.
type twoReplicas struct {
	t  *testing.T
	tb *testenv.Testbed
}

func startTwoReplicas(t *testing.T) *twoReplicas {
	t.Helper()
	dir, err := os.MkdirTemp("", "janus-e2e-replicas-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tb, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: filepath.Join(dir, "testbed"), RepoRoot: repoRoot, Binaries: binaries, Progress: os.Stderr,
		JanusArgs:     append([]string{"--replica-lease-duration=" + replicaLeaseDuration.String()}, testbedJanusArgs...),
		Targets:       []testenv.TargetSpec{{Name: "dev"}},
		SecondReplica: true,
	})
	if err != nil {
		keepLogs(filepath.Join(dir, "testbed", "logs"))
		t.Fatalf("starting a testbed with two replicas: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			keepLogs(tb.LogDir())
		}
		if err := tb.Stop(); err != nil {
			t.Errorf("stopping the two-replica testbed: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return &twoReplicas{t: t, tb: tb}
}

func (r *twoReplicas) janus(user string) versioned.Interface {
	cfg, err := r.tb.RESTConfigFor(user)
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func (r *twoReplicas) kube() kubernetes.Interface {
	cfg, err := r.tb.RESTConfigFor("admin")
	if err != nil {
		r.t.Fatal(err)
	}
	return kubernetes.NewForConfigOrDie(cfg)
}

func (r *twoReplicas) target() kubernetes.Interface {
	c, err := r.tb.Target("dev").Client()
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// poll checks cond every 20 ms until it holds or timeout passes.
func (r *twoReplicas) poll(what string, timeout time.Duration, cond func(ctx context.Context) (bool, error)) {
	r.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, cond); err != nil {
		r.t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}

func (r *twoReplicas) leaseHolder(ctx context.Context) string {
	lease, err := r.kube().CoordinationV1().Leases("janus").Get(ctx, "janus-lifecycle-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

func (r *twoReplicas) waitPhase(name string, phase v1alpha1.AccessRequestPhase, timeout time.Duration) *v1alpha1.AccessRequest {
	r.t.Helper()
	var last *v1alpha1.AccessRequest
	client := r.janus("admin")
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ar, err := client.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = ar
		return ar.Status.Phase == phase, nil
	})
	if err != nil {
		r.t.Fatalf("request %s did not reach %s within %s; last status %+v", name, phase, timeout, last)
	}
	return last
}

// grants lists the objects labelled for request in the target.
func (r *twoReplicas) grants(ctx context.Context, request string) ([]string, error) {
	sel := metav1.ListOptions{LabelSelector: requestLabel + "=" + request}
	var out []string
	sas, err := r.target().CoreV1().ServiceAccounts("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range sas.Items {
		out = append(out, "serviceaccount/"+o.Namespace+"/"+o.Name)
	}
	bindings, err := r.target().RbacV1().RoleBindings("").List(ctx, sel)
	if err != nil {
		return nil, err
	}
	for _, o := range bindings.Items {
		out = append(out, "rolebinding/"+o.Namespace+"/"+o.Name)
	}
	return out, nil
}

func (r *twoReplicas) request(duration time.Duration) *v1alpha1.AccessRequest {
	r.t.Helper()
	ctx := bg(r.t)
	ar, err := r.janus("alice").JanusV1alpha1().AccessRequests().Create(ctx, &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "replicas-"},
		Spec:       v1alpha1.AccessRequestSpec{Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: duration}, Reason: "e2e replicas"},
	}, metav1.CreateOptions{})
	if err != nil {
		r.t.Fatalf("alice creating a request: %v", err)
	}
	if _, err := r.janus("bob").JanusV1alpha1().AccessRequests().Approve(ctx, ar.Name, &v1alpha1.Approval{Reason: "e2e"}, metav1.CreateOptions{}); err != nil {
		r.t.Fatalf("bob approving %s: %v", ar.Name, err)
	}
	return ar
}

func (r *twoReplicas) exec(ctx context.Context, request string, command ...string) (string, error) {
	cfg, err := r.tb.RESTConfigFor("alice")
	if err != nil {
		r.t.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": command, "stdout": {"true"}, "stderr": {"true"}}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+"/apis/janus.infroware.io/v1alpha1/accessrequests/"+request+"/exec?"+q.Encode())
	if err != nil {
		r.t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	err = executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	if err != nil {
		return "", fmt.Errorf("%w (stderr %q)", err, stderr.String())
	}
	return stdout.String(), nil
}

// TestReplicasServeAnAgentConnectedToTheOther: the agent of dev is
// connected to replica B, and every request of the API goes to replica A
// (the Service's ClusterIP balances to A only). A leads: approve → grant
// in the target, exec, log and revoke → grant removed all go through A and,
// over the peer link, B's tunnel; sessions relayed by B are attached to
// and terminated through A. Then A, the leader, is killed with
// SIGKILL while a grant is pending expiry: B takes the Lease, the expiry
// still removes the grant on time, attach and terminate of the session A
// relayed answer 503 naming A, the APIService stays Available, and a
// namespace of the central cluster deletes as usual. A stays away past
// its heartbeat Lease: B counts it gone, closes the session A relayed
// with its recording sealed, and deletes A's Lease; A, restarted, leaves
// that Session as B closed it.
func TestReplicasServeAnAgentConnectedToTheOther(t *testing.T) {
	r := startTwoReplicas(t)
	ctx := bg(t)
	r.routeAPITo(testenv.ReplicaA)
	r.poll("replica A to hold the Lease", 30*time.Second, func(ctx context.Context) (bool, error) {
		return r.leaseHolder(ctx) == testenv.ReplicaA, nil
	})

	// Approve through A, granted by A through B's tunnel.
	begin := time.Now()
	ar := r.request(time.Hour)
	r.waitPhase(ar.Name, v1alpha1.AccessRequestActive, 60*time.Second)
	objs, err := r.grants(ctx, ar.Name)
	if err != nil || len(objs) < 2 {
		t.Fatalf("grant of %s in the target: %v, %v; want its ServiceAccount and RoleBinding", ar.Name, objs, err)
	}
	t.Logf("approve through A → Active with the grant in the target (agent on B): %s", time.Since(begin).Round(time.Millisecond))

	// The agent's tunnel is B's; A reached it through the peer link.
	for log, line := range map[string]string{"janus-apiserver-b.log": `"Agent connected" cluster="dev"`, "janus-apiserver.log": `"Agent reached through a peer" cluster="dev" connected=true`} {
		data, err := os.ReadFile(filepath.Join(r.tb.LogDir(), log))
		if err != nil || !strings.Contains(string(data), line) {
			t.Errorf("%s does not say %s (%v)", log, line, err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(r.tb.LogDir(), "janus-apiserver.log")); strings.Contains(string(data), `"Agent connected" cluster="dev"`) {
		t.Error("the agent connected to replica A too; it must be B's only")
	}

	// Exec through A: A asks the agent through B's tunnel, the agent
	// dials its stream back to B, and B relays it to A.
	execCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	out, err := r.exec(execCtx, ar.Name, "echo", "through-a-over-b")
	cancel()
	if err != nil || strings.TrimSpace(out) != "through-a-over-b" {
		t.Fatalf("exec through replica A: %q, %v", out, err)
	}

	// Log through A, over the same relayed stream dial-back.
	logs, err := r.janus("alice").JanusV1alpha1().RESTClient().Get().Resource("accessrequests").Name(ar.Name).SubResource("log").
		Param("namespace", "payments").Param("pod", "payments-api-0").Param("container", "main").Stream(ctx)
	if err != nil {
		t.Fatalf("reading logs through replica A: %v", err)
	}
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(logs, buf, len("starting payments-api"))
	logs.Close()
	if err != nil || !strings.Contains(string(buf[:n]), "starting payments-api") {
		t.Fatalf("logs through replica A: %q, %v", buf[:n], err)
	}

	// Sessions relayed by B, attached to and terminated through A.
	r.attachAndTerminateThroughTheOtherReplica()
	// B, its heartbeat refused, cuts its sessions before it may be
	// counted gone.
	r.suspendedWhileItsLeaseIsRefused()
	r.routeAPITo(testenv.ReplicaA)

	// Revoke through A: the grant leaves the target.
	begin = time.Now()
	if _, err := r.janus("bob").JanusV1alpha1().AccessRequests().Revoke(ctx, ar.Name, &v1alpha1.Revocation{Reason: "e2e"}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bob revoking through A: %v", err)
	}
	r.poll("the revoked grant to leave the target", 30*time.Second, func(ctx context.Context) (bool, error) {
		objs, err := r.grants(ctx, ar.Name)
		return err == nil && len(objs) == 0, nil
	})
	t.Logf("revoke through A → grant gone from the target: %s", time.Since(begin).Round(time.Millisecond))

	// A grant pending expiry when the leader dies.
	const duration = 30 * time.Second
	pending := r.request(duration)
	active := r.waitPhase(pending.Name, v1alpha1.AccessRequestActive, 60*time.Second)
	expiresAt := active.Status.ExpiresAt.Time
	onA := r.sessionOn(testenv.ReplicaA, pending.Name)
	r.recordingHolds(onA, "up-on-"+testenv.ReplicaA)
	if err := r.tb.RouteAPIService(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if err := r.tb.KillReplica(testenv.ReplicaA); err != nil {
		t.Fatal(err)
	}
	r.poll("replica B to take the Lease", 60*time.Second, func(ctx context.Context) (bool, error) {
		return r.leaseHolder(ctx) == testenv.ReplicaB, nil
	})
	t.Logf("leader A killed with SIGKILL; B took the Lease %s later, %s before expiresAt", time.Since(killed).Round(time.Millisecond), time.Until(expiresAt).Round(time.Millisecond))
	// The session A relayed died with it; B says so, naming A.
	r.relayGoneSays(onA, testenv.ReplicaA)

	// With A down the APIService stays Available and a namespace deletes.
	apiServices := dynamic.NewForConfigOrDie(r.adminConfig()).Resource(schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"})
	r.poll("the APIService Available with A down", 30*time.Second, func(ctx context.Context) (bool, error) {
		obj, err := apiServices.Get(ctx, "v1alpha1.janus.infroware.io", metav1.GetOptions{})
		return err == nil && available(obj), nil
	})
	ns, err := r.kube().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "replicas-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	deleting := time.Now()
	if err := r.kube().CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.poll("namespace "+ns.Name+" to be deleted with one replica down", 60*time.Second, func(ctx context.Context) (bool, error) {
		_, err := r.kube().CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	t.Logf("with replica A down: namespace deleted in %s", time.Since(deleting).Round(time.Millisecond))

	// The new leader expires the request and removes the grant on time.
	r.poll("the grant to leave the target after expiresAt", duration+60*time.Second, func(ctx context.Context) (bool, error) {
		objs, err := r.grants(ctx, pending.Name)
		return err == nil && len(objs) == 0, nil
	})
	removedLate := time.Since(expiresAt)
	expired := r.waitPhase(pending.Name, v1alpha1.AccessRequestExpired, 10*time.Second)
	cond := meta.FindStatusCondition(expired.Status.Conditions, v1alpha1.ConditionExpired)
	if cond == nil {
		t.Fatalf("expired request %s has no Expired condition", pending.Name)
	}
	// Condition times have a resolution of one second.
	late := cond.LastTransitionTime.Sub(expiresAt)
	t.Logf("after the leader's SIGKILL: expired %s after expiresAt (condition time, 1 s resolution), grant gone from the target at most %s after it", late, removedLate.Round(time.Millisecond))
	if late < 0 || late > 2*time.Second || removedLate > 3*time.Second {
		t.Errorf("with the leader killed, the request expired %s and its grant went %s after expiresAt; want within 2 s and 3 s", late, removedLate)
	}

	// A does not come back in time: B counts it gone and closes the
	// session it relayed.
	lost := r.lostReplicaClosed(onA, testenv.ReplicaA, killed)

	// A comes back. It learns the agents B holds only on the peer link B
	// redials to it, so its /readyz answers 200 only once that link is up:
	// the first exec through A alone, as soon as A is ready, works.
	r.routeAPITo(testenv.ReplicaB)
	again := r.request(time.Hour)
	r.waitPhase(again.Name, v1alpha1.AccessRequestActive, 60*time.Second)
	// B redials A every 5 s. Starting A just after one of B's tries fails
	// leaves A, which is up within about a second, the longest wait for
	// B's link: the gap a readiness that did not wait for it would show.
	failedDials := func() int {
		data, _ := os.ReadFile(filepath.Join(r.tb.LogDir(), "janus-apiserver-b.log"))
		return strings.Count(string(data), "Failed to connect to peer ws://") // A is B's only peer
	}
	before := failedDials()
	r.poll("replica B to fail a dial of A", 30*time.Second, func(context.Context) (bool, error) {
		return failedDials() > before, nil
	})
	restarting := time.Now()
	if err := r.tb.StartReplica(ctx, testenv.ReplicaA); err != nil {
		t.Fatalf("restarting replica A: %v", err)
	}
	ready := time.Since(restarting)
	r.routeAPITo(testenv.ReplicaA)
	execCtx, cancel = context.WithTimeout(ctx, 30*time.Second)
	out, err = r.exec(execCtx, again.Name, "echo", "first-try-after-restart")
	cancel()
	if err != nil || strings.TrimSpace(out) != "first-try-after-restart" {
		t.Fatalf("the first exec through replica A once restarted and ready (%s after its start), for dev whose agent is on B: %q, %v", ready.Round(time.Millisecond), out, err)
	}
	// The log holds both of A's runs; what follows the last command line is
	// the restart's. A said its peers synced only after B's link reached it.
	data, err := os.ReadFile(filepath.Join(r.tb.LogDir(), "janus-apiserver.log"))
	restart := string(data)
	if k := strings.LastIndex(restart, "\n# /"); k >= 0 {
		restart = restart[k:]
	}
	linked := strings.Index(restart, `"Peer connected" peer="janus-b"`)
	synced := strings.Index(restart, `"Peers synced`)
	if err != nil || linked < 0 || synced < linked {
		t.Fatalf("the restarted replica A's log: B's link at %d, peers synced at %d; want the link first (%v)", linked, synced, err)
	}
	// A, restarted, leaves the Session B closed for it as B closed it.
	if s, err := r.janus("admin").JanusV1alpha1().Sessions().Get(ctx, onA, metav1.GetOptions{}); err != nil {
		t.Errorf("reading session %s after A restarted: %v", onA, err)
	} else if s.ResourceVersion != lost.ResourceVersion {
		t.Errorf("session %s changed after A restarted: endReason %q, want it as B closed it: %q", onA, s.Status.EndReason, lost.Status.EndReason)
	}
	since, _, _ := strings.Cut(restart[synced:], "\n")
	_, since, _ = strings.Cut(since, "sinceStart=")
	t.Logf("replica A restarted: ready %s after its process started (peers synced %s after peering began), the first exec through it alone worked", ready.Round(time.Millisecond), since)
}

func (r *twoReplicas) adminConfig() *rest.Config {
	cfg, err := r.tb.RESTConfigFor("admin")
	if err != nil {
		r.t.Fatal(err)
	}
	return cfg
}

// available reads an APIService's Available condition.
func available(obj *unstructured.Unstructured) bool {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if cond, _ := c.(map[string]any); cond["type"] == "Available" {
			return cond["status"] == "True"
		}
	}
	return false
}
