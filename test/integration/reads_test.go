package integration

import (
	"net/http"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/targetreads"
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
