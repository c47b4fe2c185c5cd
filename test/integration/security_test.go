package integration

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

// The holes of issue 9: agent trust taken over with a plain Cluster
// update, a quorum lowered under a pending request, one person approving
// twice under two names, and a status nobody could have reached.

// TestPlainClusterUpdateCannotChangeAgentTrust: spec.agent is its own
// permission. A plain update or patch that touches it is a 422 naming
// clusters/agent and changes nothing — the tunnel verified under the old
// trust stays — while the subresource changes it, and only it, and the
// tunnel follows.
func TestPlainClusterUpdateCannotChangeAgentTrust(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	agentSA := "system:serviceaccount:janus:janus-agent"
	hour := time.Now().Add(time.Hour)
	trusted := newIssuer(t, "https://dev.example.com")
	trustIssuer(t, e, "dev", trusted)
	held := holdTunnel(t, e.server, "dev", trusted.token(t, agentSA, tunnel.Audience, hour))
	before, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
	mustSucceedCluster(t, err)

	rogue := newIssuer(t, "https://rogue.example.com")
	takeover := before.DeepCopy()
	takeover.Spec.Agent = v1alpha1.ClusterAgent{Issuer: rogue.url, JWKS: rogue.jwks(t), ServiceAccount: "janus/janus-agent"}
	takeover.Spec.DisplayName = "Taken over"
	_, err = e.admin.JanusV1alpha1().Clusters().Update(ctx(t), takeover, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "spec.agent")
	expectStatus(t, err, http.StatusUnprocessableEntity, "clusters/agent")

	patch := []byte(`{"spec":{"agent":{"jwks":` + quoteJSON(rogue.jwks(t)) + `}}}`)
	_, err = e.admin.JanusV1alpha1().Clusters().Patch(ctx(t), "dev", types.MergePatchType, patch, metav1.PatchOptions{})
	expectInvalidFields(t, err, "spec.agent")

	after, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), "dev", metav1.GetOptions{})
	mustSucceedCluster(t, err)
	if after.ResourceVersion != before.ResourceVersion || after.Spec.Agent != before.Spec.Agent || after.Spec.DisplayName != before.Spec.DisplayName {
		t.Errorf("a refused update changed the Cluster: %+v, was %+v", after.Spec, before.Spec)
	}
	if got := dialTunnel(t, e.server, "dev", rogue.token(t, agentSA, tunnel.Audience, hour)); got != http.StatusUnauthorized {
		t.Errorf("the rogue issuer's token after the refused takeover: %d, want 401", got)
	}
	expectOpen(t, held, "after a refused takeover")

	// The subresource changes spec.agent and nothing else, whatever else
	// the body says.
	rotated := time.Now()
	agentOnly := []byte(`{"spec":{"displayName":"Renamed","approval":{"required":3},"agent":{"issuer":"` + rogue.url + `","jwks":` + quoteJSON(rogue.jwks(t)) + `}}}`)
	got, err := e.admin.JanusV1alpha1().Clusters().Patch(ctx(t), "dev", types.MergePatchType, agentOnly, metav1.PatchOptions{}, "agent")
	mustSucceedCluster(t, err)
	if got.Spec.Agent.Issuer != rogue.url || got.Spec.DisplayName != before.Spec.DisplayName || got.Spec.Approval.Required != before.Spec.Approval.Required {
		t.Errorf("clusters/agent wrote %+v; want only spec.agent changed from %+v", got.Spec, before.Spec)
	}
	if got.Generation != before.Generation+1 {
		t.Errorf("generation %d after the agent changed, want %d", got.Generation, before.Generation+1)
	}
	expectClosedWithin(t, held, rotated, 2*time.Second, "spec.agent changed through clusters/agent")
	if code := dialTunnel(t, e.server, "dev", trusted.token(t, agentSA, tunnel.Audience, hour)); code != http.StatusUnauthorized {
		t.Errorf("a token of the old trust after the rotation: %d, want 401", code)
	}
	expectOpen(t, holdTunnel(t, e.server, "dev", rogue.token(t, agentSA, tunnel.Audience, hour)), "under the new trust")

	// Registering a Cluster with its agent trust stays one create.
	created, err := e.admin.JanusV1alpha1().Clusters().Create(ctx(t), &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "staging"},
		Spec:       v1alpha1.ClusterSpec{Agent: v1alpha1.ClusterAgent{Issuer: trusted.url, ServiceAccount: "janus/janus-agent"}},
	}, metav1.CreateOptions{})
	mustSucceedCluster(t, err)
	if created.Spec.Agent.Issuer != trusted.url {
		t.Errorf("created with spec.agent %+v", created.Spec.Agent)
	}
}

// TestLoweringTheQuorumDoesNotLetOneApproverActivate: the quorum is fixed
// when the request is made.
func TestLoweringTheQuorumDoesNotLetOneApproverActivate(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	if ar.Status.RequiredApprovals != 2 {
		t.Fatalf("requiredApprovals %d on create, want prod's 2", ar.Status.RequiredApprovals)
	}
	lower := []byte(`{"spec":{"approval":{"required":1}}}`)
	if _, err := e.admin.JanusV1alpha1().Clusters().Patch(ctx(t), "prod", types.MergePatchType, lower, metav1.PatchOptions{}); err != nil {
		t.Fatalf("lowering prod's quorum: %v", err)
	}

	got, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "carol approving", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestPending || got.Status.Message != "1 of 2 approvals" {
		t.Fatalf("after one approval under a lowered quorum: phase %s, %q; want Pending, 1 of 2 approvals", got.Status.Phase, got.Status.Message)
	}
	got, err = e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "erin approving", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestApproved {
		t.Errorf("after two approvals: phase %s, want Approved", got.Status.Phase)
	}

	// A request made after the change needs one.
	next := create(t, e.alice, request("prod", time.Hour, "payments"))
	if next.Status.RequiredApprovals != 1 {
		t.Errorf("requiredApprovals %d on a request made after the change, want 1", next.Status.RequiredApprovals)
	}
}

// TestOneUIDApprovesOnceUnderTwoNames: approvers are distinct by username
// and by UID, and the requester's UID under another name is still the
// requester.
func TestOneUIDApprovesOnceUnderTwoNames(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	// Members of system:masters may do anything, approving included.
	carolAgain := e.server.Client(t, framework.User{Name: "carol@corp", UID: carol.UID, Groups: []string{"system:masters", "system:authenticated"}})
	aliceAgain := e.server.Client(t, framework.User{Name: "alice@corp", UID: alice.UID, Groups: []string{"system:masters", "system:authenticated"}})

	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	_, err := aliceAgain.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "me again"}, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusForbidden, "own request")

	got, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "carol approving", got, err)
	if len(got.Status.Approvals) != 1 || got.Status.Approvals[0].UID != carol.UID {
		t.Fatalf("approvals %+v, want carol's with her UID", got.Status.Approvals)
	}
	_, err = carolAgain.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok again"}, metav1.CreateOptions{})
	expectStatus(t, err, http.StatusConflict, "already approved")

	got, err = e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
	mustSucceed(t, "reading the request", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestPending || len(got.Status.Approvals) != 1 {
		t.Errorf("after carol approved twice: phase %s, %d approvals; want Pending with 1", got.Status.Phase, len(got.Status.Approvals))
	}

	// Nor can the status subresource count her twice.
	twice := got.DeepCopy()
	twice.Status.Approvals = append(twice.Status.Approvals, v1alpha1.Decision{User: "carol@corp", UID: carol.UID, Time: metav1.Now()})
	twice.Status.Phase = v1alpha1.AccessRequestApproved
	_, err = e.admin.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), twice, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "status.approvals")
}

// TestStatusSubresourceRefusesImpossibleStatus: whoever may write
// accessrequests/status cannot write a status the lifecycle never reaches;
// the lifecycle's own writes (here expiry) pass.
func TestStatusSubresourceRefusesImpossibleStatus(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	writeStatus := func(name string, change func(*v1alpha1.AccessRequestStatus)) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			ar, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			change(&ar.Status)
			_, err = e.admin.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), ar, metav1.UpdateOptions{})
			return err
		})
	}
	unchanged := func(name string, phase v1alpha1.AccessRequestPhase) {
		t.Helper()
		ar, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), name, metav1.GetOptions{})
		mustSucceed(t, "reading the request", ar, err)
		if ar.Status.Phase != phase {
			t.Errorf("%s is %s after a refused status write, want %s", name, ar.Status.Phase, phase)
		}
	}

	pending := create(t, e.alice, request("dev", time.Hour, "payments"))
	err := writeStatus(pending.Name, func(s *v1alpha1.AccessRequestStatus) { s.Phase = v1alpha1.AccessRequestApproved })
	expectInvalidFields(t, err, "status.approvals")
	err = writeStatus(pending.Name, func(s *v1alpha1.AccessRequestStatus) { s.RequiredApprovals = 0 })
	expectInvalidFields(t, err, "status.requiredApprovals")
	err = writeStatus(pending.Name, func(s *v1alpha1.AccessRequestStatus) { s.Phase = "Granted" })
	expectInvalidFields(t, err, "status.phase")
	unchanged(pending.Name, v1alpha1.AccessRequestPending)

	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "bob approving", ar, err)
	now := metav1.NewTime(time.Now().Truncate(time.Second))
	err = writeStatus(ar.Name, func(s *v1alpha1.AccessRequestStatus) {
		s.Phase, s.ActivatedAt = v1alpha1.AccessRequestActive, &now
	})
	expectInvalidFields(t, err, "status.expiresAt")
	unchanged(ar.Name, v1alpha1.AccessRequestApproved)

	// Active for two seconds, with no agent: the controller expires it on
	// time through the same validation.
	soon := metav1.NewTime(now.Add(2 * time.Second))
	if err := writeStatus(ar.Name, func(s *v1alpha1.AccessRequestStatus) {
		s.Phase, s.ActivatedAt, s.ExpiresAt = v1alpha1.AccessRequestActive, &now, &soon
	}); err != nil {
		t.Fatalf("activating with a clock: %v", err)
	}
	waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool {
		return ar.Status.Phase == v1alpha1.AccessRequestExpired
	})
	later := metav1.NewTime(time.Now().Add(time.Hour))
	err = writeStatus(ar.Name, func(s *v1alpha1.AccessRequestStatus) {
		s.Phase, s.ExpiresAt = v1alpha1.AccessRequestActive, &later
	})
	expectInvalidFields(t, err, "status.phase")
	var status apierrors.APIStatus
	if errors.As(err, &status) && !strings.Contains(status.Status().Message, "final") {
		t.Errorf("the refusal does not say Expired is final: %v", err)
	}
	unchanged(ar.Name, v1alpha1.AccessRequestExpired)
}

// quoteJSON is s as a JSON string.
func quoteJSON(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
