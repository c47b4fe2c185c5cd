package integration

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/targetreads"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

// TestReadsRefuseBadQueriesAndSayWhenTheAgentIsAway: on alice's Active
// request a malformed namespace or pod is a 422 naming the parameter, a
// namespace the request does not cover a 403, and a good read while the
// cluster's agent is not connected a 503 that says so — never a 500.
func TestReadsRefuseBadQueriesAndSayWhenTheAgentIsAway(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	ar = activate(t, e, ar)
	janus := e.alice.JanusV1alpha1()

	_, err = targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{})
	expectInvalidFields(t, err, "namespace")
	_, err = targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "Payments"})
	expectInvalidFields(t, err, "namespace")
	_, err = targetreads.Events(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments", Pod: "api,involvedObject.kind=Secret"})
	expectInvalidFields(t, err, "pod")

	_, err = targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "default"})
	expectStatus(t, err, http.StatusForbidden, "accessrequests/pods", `namespace "default" is not granted by this request (granted: payments)`)
	_, err = targetreads.Events(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "default"})
	expectStatus(t, err, http.StatusForbidden, "accessrequests/events", `namespace "default" is not granted`)
	_, err = targetreads.Pods(ctx(t), janus, "no-such-request", &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	expectStatus(t, err, http.StatusNotFound, `"no-such-request" not found`)

	_, err = targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	expectStatus(t, err, http.StatusServiceUnavailable, "the agent of cluster dev is not connected")
	_, err = targetreads.Events(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments", Pod: "payments-api-0"})
	expectStatus(t, err, http.StatusServiceUnavailable, "the agent of cluster dev is not connected")
}

// TestReadsPassOnTheAgentsAnswers: through a real tunnel, what the agent
// read comes back typed; the target's RBAC refusal is a 403 in its words;
// an agent that cannot read its cluster is a 503 and one that does not
// answer within the read timeout a 504 — never a 500.
func TestReadsPassOnTheAgentsAnswers(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	created := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "test", Namespaces: []string{"payments", "default"}})
	})
	api.HandleFunc("POST "+tunnel.PathReconcile, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.ReconcileResult{})
	})
	api.HandleFunc("PUT "+tunnel.PathGrants+"{request}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.GrantStatus{Request: r.PathValue("request")})
	})
	api.HandleFunc("GET "+tunnel.PathPods+"{request}/{namespace}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("namespace") {
		case "payments":
			_ = json.NewEncoder(w).Encode(tunnel.PodList{Items: []tunnel.Pod{{
				Name: "payments-api-0", Namespace: "payments", Phase: "Running", Status: "Running", Ready: "1/1", Restarts: 3, Node: "node-1", CreatedAt: created,
				Containers: []tunnel.PodContainer{{Name: "main", Image: "registry.example/api:1", Ready: true, RestartCount: 3, State: "Running"}},
			}}})
		case "default":
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(tunnel.Error{Message: "reading pods in namespace default from the target cluster: connection refused"})
		}
	})
	api.HandleFunc("GET "+tunnel.PathEvents+"{request}/{namespace}", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get(tunnel.QueryPod) == "slow-0" {
			<-r.Context().Done()
			return
		}
		w.WriteHeader(http.StatusForbidden)
		_ = json.NewEncoder(w).Encode(tunnel.Error{Message: `the target cluster refused: events is forbidden: User "system:serviceaccount:janus:janus-x" cannot list resource "events"`})
	})
	runAgent(t, e, "dev", api)
	waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })

	ar := create(t, e.alice, request("dev", time.Hour, "payments", "default"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	ar = activate(t, e, ar)
	janus := e.alice.JanusV1alpha1()

	pods, err := targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "payments"})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	want := v1alpha1.AccessRequestPod{
		Name: "payments-api-0", Namespace: "payments", Phase: "Running", Status: "Running", Ready: "1/1", Restarts: 3, Node: "node-1", CreatedAt: metav1.NewTime(created),
		Containers: []v1alpha1.AccessRequestPodContainer{{Name: "main", Image: "registry.example/api:1", Ready: true, RestartCount: 3, State: "Running"}},
	}
	if len(pods.Items) != 1 || !apiequality.Semantic.DeepEqual(pods.Items[0], want) {
		t.Errorf("pods = %+v, want %+v", pods.Items, want)
	}

	_, err = targetreads.Pods(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: "default"})
	expectStatus(t, err, http.StatusServiceUnavailable, "the agent of cluster dev", "connection refused")
	_, err = targetreads.Events(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments"})
	expectStatus(t, err, http.StatusForbidden, "accessrequests/events", `cannot list resource "events"`)
	begin := time.Now()
	_, err = targetreads.Events(ctx(t), janus, ar.Name, &v1alpha1.AccessRequestEventsOptions{Namespace: "payments", Pod: "slow-0"})
	expectStatus(t, err, http.StatusGatewayTimeout, "the agent of cluster dev did not answer within 10s")
	if took := time.Since(begin); took < tunnel.ReadTimeout || took > tunnel.ReadTimeout+5*time.Second {
		t.Errorf("a read of a silent agent ended after %s, want about %s", took.Round(time.Millisecond), tunnel.ReadTimeout)
	}
}
