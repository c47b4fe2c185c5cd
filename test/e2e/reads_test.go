package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/targetreads"
)

// readRounds is how many pods reads TestPodsAndEventsThroughJanus times.
const readRounds = 50

// TestPodsAndEventsThroughJanus: alice's Active request lists the kwok
// pods of payments and the Events of one of them, through the
// aggregator, Janus and the dev agent with the request's own token; the
// same gate as exec refuses bob, a namespace not granted, a Pending
// request and, once revoked, the request itself. It reports how long a
// pods read takes.
func TestPodsAndEventsThroughJanus(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	alice := janusAs(t, "alice").JanusV1alpha1()

	pods, err := targetreads.Pods(bg(t), alice, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	if err != nil {
		t.Fatalf("listing the pods of payments through Janus: %v", err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
		if p.Namespace != "payments" || p.Phase != "Running" || p.Status != "Running" || p.Ready != "1/1" || p.Node != "kwok-node-0" || p.CreatedAt.IsZero() {
			t.Errorf("pod %+v: want Running, 1/1 ready, on kwok-node-0, with its creation time", p)
		}
		if len(p.Containers) != 1 || p.Containers[0].Name != "main" || p.Containers[0].Image != "registry.example/demo:1" || !p.Containers[0].Ready {
			t.Errorf("containers of %s = %+v, want main (registry.example/demo:1), ready", p.Name, p.Containers)
		}
	}
	if !slices.Equal(names, []string{"payments-api-0", "payments-worker-0"}) {
		t.Errorf("pods = %v, want payments-api-0 and payments-worker-0", names)
	}

	durations := make([]time.Duration, 0, readRounds)
	for range readRounds {
		begin := time.Now()
		if _, err := targetreads.Pods(bg(t), alice, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"}); err != nil {
			t.Fatalf("reading pods: %v", err)
		}
		durations = append(durations, time.Since(begin))
	}
	// The same list straight from the dev cluster's kube-apiserver, for
	// the cost of the three hops (aggregator, Janus, agent) beside it.
	direct := make([]time.Duration, 0, readRounds)
	dev := devCluster(t)
	for range readRounds {
		begin := time.Now()
		if _, err := dev.CoreV1().Pods("payments").List(bg(t), metav1.ListOptions{}); err != nil {
			t.Fatalf("listing pods in the dev cluster: %v", err)
		}
		direct = append(direct, time.Since(begin))
	}
	t.Logf("pods of payments (2), %d reads: through aggregator, Janus and agent %s; straight from the dev kube-apiserver %s", readRounds, percentiles(durations), percentiles(direct))

	// An Event in the target cluster, about payments-api-0, as a kubelet
	// would write it.
	reason := "JanusE2E" + utilrand.String(5)
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	_, err = devCluster(t).CoreV1().Events("payments").Create(bg(t), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "payments-api-0."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "payments", Name: "payments-api-0"},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: "probe failed: \x1b[2Jconnection refused",
		FirstTimestamp: now, LastTimestamp: now, Count: 1, Source: corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("writing an Event in the target cluster: %v", err)
	}
	events, err := targetreads.Events(bg(t), alice, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments", Pod: "payments-api-0"})
	if err != nil {
		t.Fatalf("reading the Events of payments-api-0 through Janus: %v", err)
	}
	if !hasEvent(events, reason) {
		t.Errorf("the Events of payments-api-0 lack %s: %+v", reason, events.Items)
	}
	for _, e := range events.Items {
		if e.InvolvedObject.Name != "payments-api-0" {
			t.Errorf("an Event about %s/%s among those of payments-api-0", e.InvolvedObject.Kind, e.InvolvedObject.Name)
		}
	}
	other, err := targetreads.Events(bg(t), alice, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments", Pod: "payments-worker-0"})
	if err != nil {
		t.Fatalf("reading the Events of payments-worker-0: %v", err)
	}
	if hasEvent(other, reason) {
		t.Errorf("payments-worker-0's Events hold payments-api-0's %s", reason)
	}

	// The gate of exec, with its words.
	_, err = targetreads.Pods(bg(t), janusAs(t, "bob").JanusV1alpha1(), ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	expectAPIStatus(t, err, http.StatusForbidden, `only the requester "alice" may list pods under this request, not "bob"`)
	_, err = targetreads.Events(bg(t), janusAs(t, "bob").JanusV1alpha1(), ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments"})
	expectAPIStatus(t, err, http.StatusForbidden, `only the requester "alice" may list events under this request`)
	_, err = targetreads.Pods(bg(t), alice, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "default"})
	expectAPIStatus(t, err, http.StatusForbidden, `namespace "default" is not granted by this request (granted: payments)`)
	_, err = targetreads.Pods(bg(t), alice, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "Payments"})
	expectAPIStatus(t, err, http.StatusUnprocessableEntity, "namespace")
	pending := newRequest(t, time.Hour, "payments")
	_, err = targetreads.Pods(bg(t), alice, pending.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	expectAPIStatus(t, err, http.StatusForbidden, "the request is Pending; listing pods needs an Active request")

	if _, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: "e2e reads"}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = targetreads.Pods(bg(t), alice, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	expectAPIStatus(t, err, http.StatusForbidden, "the request is Revoked; listing pods needs an Active request")
	_, err = targetreads.Events(bg(t), alice, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments"})
	expectAPIStatus(t, err, http.StatusForbidden, "the request is Revoked; listing events needs an Active request")
}

// TestPluginListsPodsAndEvents: kubectl janus pods prints kubectl get
// pods' table, with a NAMESPACE column across the request's namespaces,
// and kubectl janus events kubectl events' table; nothing the cluster
// wrote reaches the terminal as a control sequence.
func TestPluginListsPodsAndEvents(t *testing.T) {
	t.Parallel()
	p := buildPlugin(t)
	ar := activeRequest(t, time.Hour, "payments", "default")

	out := p.mustRun(t, "alice", "pods", ar.Name, "-n", "payments")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if h := strings.Join(strings.Fields(lines[0]), " "); h != "NAME READY STATUS RESTARTS AGE" {
		t.Errorf("header %q, want kubectl get pods' columns", h)
	}
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "payments-api-0 ") || !strings.Contains(lines[1], " 1/1 ") || !strings.Contains(lines[1], " Running ") {
		t.Errorf("want payments-api-0 and payments-worker-0, 1/1 Running:\n%s", out)
	}
	out = p.mustRun(t, "alice", "pods", ar.Name)
	if h := strings.Fields(strings.Split(out, "\n")[0]); len(h) == 0 || h[0] != "NAMESPACE" {
		t.Errorf("across the request's namespaces the first column is not NAMESPACE:\n%s", out)
	}
	for _, want := range []string{"payments    payments-api-0", "default     web-0"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl janus pods lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vault-0") {
		t.Errorf("a pod of restricted, which the request does not cover, is listed:\n%s", out)
	}
	out = p.mustRun(t, "alice", "pods", ar.Name, "-n", "payments", "-o", "jsonpath={.items[*].name}")
	if out != "payments-api-0 payments-worker-0" {
		t.Errorf("-o jsonpath printed %q", out)
	}

	reason := "JanusPlugin" + utilrand.String(5)
	now := metav1.NewTime(time.Now().Add(-3 * time.Minute).Truncate(time.Second))
	_, err := devCluster(t).CoreV1().Events("default").Create(bg(t), &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{GenerateName: "web-0."},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0"},
		Type:           corev1.EventTypeWarning, Reason: reason, Message: "Back-off restarting \x1b]0;pwned\x07failed container",
		FirstTimestamp: metav1.NewTime(now.Add(-7 * time.Minute)), LastTimestamp: now, Count: 4, Source: corev1.EventSource{Component: "kubelet"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out = p.mustRun(t, "alice", "events", ar.Name, "-n", "default", "web-0")
	if h := strings.Join(strings.Fields(strings.Split(out, "\n")[0]), " "); h != "LAST SEEN TYPE REASON OBJECT MESSAGE" {
		t.Errorf("header %q, want kubectl events' columns", h)
	}
	// kubectl's ages below 8 minutes carry seconds: the Event is 3m old
	// give or take the seconds the command took.
	if !regexp.MustCompile(`\b3m(\d+s)? \(x4 over 10m\)`).MatchString(out) {
		t.Errorf("kubectl janus events lacks the Event's age \"3m… (x4 over 10m)\":\n%s", out)
	}
	for _, want := range []string{"Warning", reason, "pod/web-0", "Back-off restarting ^[]0;pwned^Gfailed container"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl janus events lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsAny(out, "\x1b\x07") {
		t.Errorf("a control character from the cluster reached the terminal: %q", out)
	}
	expectFailure(t, p.run(t, "bob", "pods", ar.Name, "-n", "payments"), "Error from server (Forbidden)", `only the requester "alice" may list pods`)
	expectFailure(t, p.run(t, "alice", "events", ar.Name, "-n", "restricted"), "Error from server (Forbidden)", `namespace "restricted" is not granted`)
}

// percentiles are p50, p99 and max of samples, which it sorts.
func percentiles(samples []time.Duration) string {
	slices.Sort(samples)
	at := func(q int) time.Duration { return samples[(len(samples)-1)*q/100].Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %s, p99 %s, max %s", at(50), at(99), at(100))
}

func hasEvent(list *v1alpha1.AccessRequestEventList, reason string) bool {
	return slices.ContainsFunc(list.Items, func(e v1alpha1.AccessRequestEvent) bool { return e.Reason == reason })
}
