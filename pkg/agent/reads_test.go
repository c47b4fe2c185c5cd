package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/tunnel"
)

// TestReadsSeeWhatTheGrantSees: the agent lists pods and Events with the
// request's own token, so a namespace the grant does not cover is the
// target's 403, not the agent's view; pods come summarised as kubectl get
// pods shows them, Events newest first and narrowed to one pod on request.
func TestReadsSeeWhatTheGrantSees(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	p, agentNS := newTestProvisioner(t, ctx, c)
	payments := newNamespace(t, ctx, c.Admin, "payments")
	other := newNamespace(t, ctx, c.Admin, "other")
	request := newRequestName("alice")
	removeOnCleanup(t, c, agentNS, request)
	if _, err := p.Ensure(ctx, grantSpec(request, payments)); err != nil {
		t.Fatalf("granting: %v", err)
	}
	relay, err := NewStreamRelay(c.AdminConfig, p)
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(NewHandlerWithStreams(p, relay))
	defer server.Close()

	// No controller manager makes the namespace's default ServiceAccount,
	// which pod admission needs.
	if _, err := c.Admin.CoreV1().ServiceAccounts(payments).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "api-0", Namespace: payments},
		Spec:       corev1.PodSpec{NodeName: "node-1", Containers: []corev1.Container{{Name: "main", Image: "registry.example/api:1"}, {Name: "proxy", Image: "registry.example/proxy:2"}}},
	}
	pod, err = c.Admin.CoreV1().Pods(payments).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
		{Name: "main", Ready: true, RestartCount: 1, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: "proxy", RestartCount: 4, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
	}}
	if _, err := c.Admin.CoreV1().Pods(payments).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	for i, e := range []corev1.Event{
		{ObjectMeta: metav1.ObjectMeta{Name: "api-0.old"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "api-0", Namespace: payments}, Type: "Normal", Reason: "Scheduled", Message: "assigned",
			FirstTimestamp: metav1.NewTime(now.Add(-time.Hour)), LastTimestamp: metav1.NewTime(now.Add(-time.Hour)), Count: 1},
		{ObjectMeta: metav1.ObjectMeta{Name: "api-0.new"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "api-0", Namespace: payments}, Type: "Warning", Reason: "BackOff", Message: "restarting proxy",
			FirstTimestamp: metav1.NewTime(now.Add(-10 * time.Minute)), LastTimestamp: metav1.NewTime(now.Add(-time.Minute)), Count: 4},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-0.x"}, InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-0", Namespace: payments}, Type: "Normal", Reason: "Pulled", Message: "pulled",
			EventTime: metav1.NewMicroTime(now.Add(-30 * time.Minute)), Series: &corev1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(now.Add(-2 * time.Minute))},
			ReportingController: "kubelet", ReportingInstance: "node-1", Action: "Pull"},
	} {
		e.Namespace = payments
		if _, err := c.Admin.CoreV1().Events(payments).Create(ctx, &e, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating event %d: %v", i, err)
		}
	}

	get := func(path string, wantStatus int, into any) string {
		t.Helper()
		resp, err := server.Client().Get(server.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, body, wantStatus)
		}
		if into != nil {
			if err := json.Unmarshal(body, into); err != nil {
				t.Fatalf("decoding %s: %v", body, err)
			}
		}
		return string(body)
	}

	var pods tunnel.PodList
	get(tunnel.ReadPath(tunnel.PathPods, request, payments), http.StatusOK, &pods)
	if len(pods.Items) != 1 || pods.Truncated {
		t.Fatalf("pods = %+v, want api-0 alone", pods)
	}
	got := pods.Items[0]
	if got.Name != "api-0" || got.Namespace != payments || got.Phase != "Running" || got.Ready != "1/2" || got.Restarts != 5 || got.Status != "CrashLoopBackOff" || got.Node != "node-1" {
		t.Errorf("pod = %+v, want Running, 1/2 ready, 5 restarts, CrashLoopBackOff, on node-1", got)
	}
	if len(got.Containers) != 2 || got.Containers[1] != (tunnel.PodContainer{Name: "proxy", Image: "registry.example/proxy:2", RestartCount: 4, State: "Waiting: CrashLoopBackOff"}) {
		t.Errorf("containers = %+v", got.Containers)
	}

	var events tunnel.EventList
	get(tunnel.ReadPath(tunnel.PathEvents, request, payments), http.StatusOK, &events)
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason)
	}
	if strings.Join(reasons, ",") != "BackOff,Pulled,Scheduled" {
		t.Errorf("events %v, want newest first (an events.k8s.io series by its last observation)", reasons)
	}
	if len(events.Items) == 3 && (events.Items[1].Count != 2 || !events.Items[1].LastTimestamp.Equal(now.Add(-2*time.Minute))) {
		t.Errorf("the series event = %+v, want count 2 last seen 2m ago", events.Items[1])
	}
	get(tunnel.ReadPath(tunnel.PathEvents, request, payments)+"?pod=api-0", http.StatusOK, &events)
	if len(events.Items) != 2 || events.Items[0].InvolvedObject != (tunnel.EventObject{Kind: "Pod", Name: "api-0"}) {
		t.Errorf("events of api-0 = %+v, want its two", events.Items)
	}

	// The grant's token cannot list another namespace: the target says so.
	refusal := get(tunnel.ReadPath(tunnel.PathPods, request, other), http.StatusForbidden, nil)
	if !strings.Contains(refusal, "cannot list resource") || !strings.Contains(refusal, "janus-"+request) {
		t.Errorf("refusal %s does not carry the target's RBAC words for the grant's ServiceAccount", refusal)
	}
	get(tunnel.ReadPath(tunnel.PathEvents, request, payments)+"?pod=api-0,involvedObject.kind%3DSecret", http.StatusBadRequest, nil)
	get(tunnel.ReadPath(tunnel.PathPods, newRequestName("nobody"), payments), http.StatusForbidden, nil)
}
