package integration

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/test/integration/framework"
)

// TestAccessRequestAPI runs the whole contract of the API on each storage
// backend against one server per backend.
func TestAccessRequestAPI(t *testing.T) {
	for _, backend := range framework.Backends {
		t.Run(string(backend), func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, backend)
			t.Run("CreateStampsRequesterFromIdentity", func(t *testing.T) { testCreateStampsRequester(t, e) })
			t.Run("CreateRejectsInvalidRequests", func(t *testing.T) { testCreateRejections(t, e) })
			t.Run("CreateNeedsRBAC", func(t *testing.T) { testCreateNeedsRBAC(t, e) })
			t.Run("ApproveByClusterApprover", func(t *testing.T) { testApprove(t, e) })
			t.Run("ApproveNeedsApproveOnCluster", func(t *testing.T) { testApproveNeedsClusterPermission(t, e) })
			t.Run("ApproveRejectsSelfApproval", func(t *testing.T) { testSelfApproval(t, e) })
			t.Run("ApproveQuorumCountsDistinctApprovers", func(t *testing.T) { testQuorum(t, e) })
			t.Run("ApproveDurationOverride", func(t *testing.T) { testApprovalDuration(t, e) })
			t.Run("Deny", func(t *testing.T) { testDeny(t, e) })
			t.Run("WithdrawOnlyByRequester", func(t *testing.T) { testWithdraw(t, e) })
			t.Run("Revoke", func(t *testing.T) { testRevoke(t, e) })
			t.Run("Extend", func(t *testing.T) { testExtend(t, e) })
			t.Run("SpecIsImmutable", func(t *testing.T) { testSpecImmutable(t, e) })
			t.Run("StatusOnlyThroughSubresources", func(t *testing.T) { testStatusProtected(t, e) })
			t.Run("FieldSelectors", func(t *testing.T) { testFieldSelectors(t, e) })
			t.Run("WatchSeesTransitions", func(t *testing.T) { testWatch(t, e) })
			t.Run("RacingDecisionsHaveOneWinner", func(t *testing.T) { testRace(t, e) })
			t.Run("DecisionOnStaleVersionConflicts", func(t *testing.T) { testStaleVersion(t, e) })
		})
	}
}

func testCreateStampsRequester(t *testing.T, e *env) {
	ar := request("dev", time.Hour, "payments", "default")
	ar.Spec.Requester = v1alpha1.UserInfo{Username: "mallory", UID: "uid-mallory", Groups: []string{"system:masters"}}
	ar.Status = v1alpha1.AccessRequestStatus{Phase: v1alpha1.AccessRequestActive, Approvals: []v1alpha1.Decision{{User: "mallory"}}}
	got := create(t, e.alice, ar)

	r := got.Spec.Requester
	if r.Username != "alice" || r.UID != "uid-alice" {
		t.Errorf("requester = %s/%s, want alice/uid-alice: the body's identity must be discarded", r.Username, r.UID)
	}
	if strings.Join(r.Groups, ",") != "engineers,system:authenticated" {
		t.Errorf("requester groups = %v, want the authenticated groups", r.Groups)
	}
	if v := r.Extra["scopes"]; len(v) != 1 || v[0] != "openid" {
		t.Errorf("requester extra = %v, want scopes=[openid]", r.Extra)
	}
	if got.Status.Phase != v1alpha1.AccessRequestPending || len(got.Status.Approvals) != 0 {
		t.Errorf("status = %+v, want a fresh Pending status", got.Status)
	}
	stored, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), got.Name, metav1.GetOptions{})
	mustSucceed(t, "reading back", stored, err)
	if stored.Spec.Requester.Username != "alice" || stored.Status.Phase != v1alpha1.AccessRequestPending {
		t.Errorf("stored request = %+v / %s, want alice / Pending", stored.Spec.Requester, stored.Status.Phase)
	}
	if stored.Spec.Duration.Duration != time.Hour {
		t.Errorf("duration = %s, want 1h", stored.Spec.Duration.Duration)
	}

	// A request without a duration gets the default of one hour.
	noDuration := request("dev", 0, "payments")
	if got := create(t, e.alice, noDuration); got.Spec.Duration.Duration != time.Hour {
		t.Errorf("defaulted duration = %s, want 1h", got.Spec.Duration.Duration)
	}
}

func testCreateRejections(t *testing.T, e *env) {
	many := make([]string, 21)
	for i := range many {
		many[i] = fmt.Sprintf("ns-%d", i)
	}
	cases := []struct {
		name   string
		mutate func(*v1alpha1.AccessRequest)
		fields []string
	}{
		{"unknown cluster", func(ar *v1alpha1.AccessRequest) { ar.Spec.Cluster = "staging" }, []string{"spec.cluster"}},
		{"no cluster", func(ar *v1alpha1.AccessRequest) { ar.Spec.Cluster = "" }, []string{"spec.cluster"}},
		{"no namespaces", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = nil }, []string{"spec.namespaces"}},
		{"namespace not a DNS label", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = []string{"Pay_ments"} }, []string{"spec.namespaces[0]"}},
		{"duplicate namespace", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = []string{"payments", "payments"} }, []string{"spec.namespaces[1]"}},
		{"too many namespaces", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = many }, []string{"spec.namespaces"}},
		{"globally excluded namespace", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = []string{"payments", "kube-system"} }, []string{"spec.namespaces[1]"}},
		{"Janus's own namespace", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = []string{"janus"} }, []string{"spec.namespaces[0]"}},
		{"namespace excluded by the cluster", func(ar *v1alpha1.AccessRequest) { ar.Spec.Namespaces = []string{"vault"} }, []string{"spec.namespaces[0]"}},
		{"duration below minimum", func(ar *v1alpha1.AccessRequest) { ar.Spec.Duration.Duration = 5 * time.Minute }, []string{"spec.duration"}},
		{"duration above maximum", func(ar *v1alpha1.AccessRequest) { ar.Spec.Duration.Duration = 9 * time.Hour }, []string{"spec.duration"}},
		{"duration above the cluster's maximum", func(ar *v1alpha1.AccessRequest) {
			ar.Spec.Cluster = "prod"
			ar.Spec.Duration.Duration = 3 * time.Hour
		}, []string{"spec.duration"}},
		{"negative duration", func(ar *v1alpha1.AccessRequest) { ar.Spec.Duration.Duration = -time.Hour }, []string{"spec.duration"}},
		{"no reason", func(ar *v1alpha1.AccessRequest) { ar.Spec.Reason = "" }, []string{"spec.reason"}},
		{"reason too long", func(ar *v1alpha1.AccessRequest) { ar.Spec.Reason = strings.Repeat("ä", 1025) }, []string{"spec.reason"}},
		{"several problems at once", func(ar *v1alpha1.AccessRequest) {
			ar.Spec.Reason = ""
			ar.Spec.Namespaces = []string{"kube-system"}
		}, []string{"spec.reason", "spec.namespaces[0]"}},
	}
	before := countRequests(t, e.admin)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ar := request("dev", time.Hour, "payments")
			tc.mutate(ar)
			_, err := e.alice.JanusV1alpha1().AccessRequests().Create(ctx(t), ar, metav1.CreateOptions{})
			expectInvalidFields(t, err, tc.fields...)
		})
	}
	if after := countRequests(t, e.admin); after != before {
		t.Errorf("rejected creates stored something: %d requests before, %d after", before, after)
	}
}

func testCreateNeedsRBAC(t *testing.T, e *env) {
	_, err := e.dave.JanusV1alpha1().AccessRequests().Create(ctx(t), request("dev", time.Hour, "payments"), metav1.CreateOptions{})
	expectStatus(t, err, 403, `"dave"`, "create")
}

func testApprove(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	got, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "looks fine"}, metav1.CreateOptions{})
	mustSucceed(t, "bob approving on dev", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestApproved {
		t.Fatalf("phase = %s, want Approved", got.Status.Phase)
	}
	if len(got.Status.Approvals) != 1 || got.Status.Approvals[0].User != "bob" || got.Status.Approvals[0].Reason != "looks fine" {
		t.Errorf("approvals = %+v, want one by bob", got.Status.Approvals)
	}
	if got.Status.GrantedDuration == nil || got.Status.GrantedDuration.Duration != time.Hour {
		t.Errorf("grantedDuration = %v, want 1h", got.Status.GrantedDuration)
	}
	if c := findCondition(got, v1alpha1.ConditionApproved); c == nil || c.Status != metav1.ConditionTrue {
		t.Errorf("conditions = %+v, want Approved=True", got.Status.Conditions)
	}
	// Approving again is a conflict that names the phase.
	_, err = e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Approved")
	// Approving a request that does not exist is a 404.
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), "no-such-request", &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 404)
}

func testApproveNeedsClusterPermission(t *testing.T, e *env) {
	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 403, `"bob"`, `"approve"`, `"clusters"`, `"prod"`)
	_, err = e.bob.JanusV1alpha1().AccessRequests().Deny(ctx(t), ar.Name, &v1alpha1.Denial{Reason: "no"}, metav1.CreateOptions{})
	expectStatus(t, err, 403, `"approve"`, `"prod"`)
	// Without RBAC create on the subresource, the first gate already refuses.
	_, err = e.alice.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 403, "accessrequests/approve")
	_, err = e.dave.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 403)

	got, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
	mustSucceed(t, "reading back", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestPending || len(got.Status.Approvals) != 0 {
		t.Errorf("refused approvals changed the request: %+v", got.Status)
	}
}

func testSelfApproval(t *testing.T, e *env) {
	// carol may approve for every cluster, but not her own request.
	ar := create(t, e.carol, request("dev", time.Hour, "payments"))
	_, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 403, "own request")
	// Neither may the same account under a new UID, nor the same UID under
	// another name.
	carolAgain := carol
	carolAgain.UID = "uid-carol-recreated"
	_, err = e.server.Client(t, carolAgain).JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 403, "own request")
	// Someone else may.
	got, err := e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "erin approving carol's request", got, err)
}

func testQuorum(t *testing.T, e *env) {
	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	got, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok"}, metav1.CreateOptions{})
	mustSucceed(t, "first approval", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestPending || len(got.Status.Approvals) != 1 {
		t.Fatalf("after one of two approvals: phase %s with %d approvals, want Pending with 1", got.Status.Phase, len(got.Status.Approvals))
	}
	if !strings.Contains(got.Status.Message, "1 of 2") {
		t.Errorf("message = %q, want it to count approvals", got.Status.Message)
	}
	_, err = e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "again"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "already approved")
	got, err = e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "ok too"}, metav1.CreateOptions{})
	mustSucceed(t, "second approval", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestApproved || len(got.Status.Approvals) != 2 {
		t.Fatalf("after two approvals: phase %s with %d approvals, want Approved with 2", got.Status.Phase, len(got.Status.Approvals))
	}
}

func testApprovalDuration(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", 2*time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Duration: &metav1.Duration{Duration: 9 * time.Hour}}, metav1.CreateOptions{})
	expectInvalidFields(t, err, "duration")
	got, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Duration: &metav1.Duration{Duration: 30 * time.Minute}}, metav1.CreateOptions{})
	mustSucceed(t, "approving for 30m", got, err)
	if got.Status.GrantedDuration == nil || got.Status.GrantedDuration.Duration != 30*time.Minute {
		t.Errorf("grantedDuration = %v, want the approver's 30m", got.Status.GrantedDuration)
	}
	if got.Spec.Duration.Duration != 2*time.Hour {
		t.Errorf("spec.duration changed to %s; the spec is immutable", got.Spec.Duration.Duration)
	}
}

func testDeny(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Deny(ctx(t), ar.Name, &v1alpha1.Denial{}, metav1.CreateOptions{})
	expectInvalidFields(t, err, "reason")
	got, err := e.bob.JanusV1alpha1().AccessRequests().Deny(ctx(t), ar.Name, &v1alpha1.Denial{Reason: "use the runbook"}, metav1.CreateOptions{})
	mustSucceed(t, "denying", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestDenied || got.Status.Decision == nil || got.Status.Decision.User != "bob" || got.Status.Decision.Reason != "use the runbook" {
		t.Fatalf("after deny: %+v, want Denied by bob with the reason", got.Status)
	}
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Denied")
	_, err = e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Denied")
}

func testWithdraw(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{})
	expectStatus(t, err, 403, "only the requester")
	got, err := e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{Reason: "fixed itself"}, metav1.CreateOptions{})
	mustSucceed(t, "withdrawing", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestWithdrawn || got.Status.Decision.User != "alice" {
		t.Fatalf("after withdraw: %+v, want Withdrawn by alice", got.Status)
	}
	_, err = e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Withdrawn")

	// An approved request can be withdrawn too.
	ar = create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approving", nil, err)
	got, err = e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{}, metav1.CreateOptions{})
	mustSucceed(t, "withdrawing an approved request", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestWithdrawn {
		t.Errorf("phase = %s, want Withdrawn", got.Status.Phase)
	}
}

func testRevoke(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.carol.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "no"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Pending")
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approving", nil, err)
	_, err = e.carol.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{}, metav1.CreateOptions{})
	expectInvalidFields(t, err, "reason")
	_, err = e.alice.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "mine"}, metav1.CreateOptions{})
	expectStatus(t, err, 403)
	got, err := e.carol.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "incident closed"}, metav1.CreateOptions{})
	mustSucceed(t, "revoking", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestRevoked || got.Status.Decision.User != "carol" {
		t.Fatalf("after revoke: %+v, want Revoked by carol", got.Status)
	}

	// Active requests are revoked the same way.
	ar = create(t, e.alice, request("dev", time.Hour, "payments"))
	approved, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approving", approved, err)
	activate(t, e, approved)
	got, err = e.bob.JanusV1alpha1().AccessRequests().Revoke(ctx(t), ar.Name, &v1alpha1.Revocation{Reason: "done"}, metav1.CreateOptions{})
	mustSucceed(t, "revoking an active request", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestRevoked {
		t.Errorf("phase = %s, want Revoked", got.Status.Phase)
	}
}

func testExtend(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "more"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "Pending")
	approved, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approving", approved, err)
	active := activate(t, e, approved)

	_, err = e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}}, metav1.CreateOptions{})
	expectInvalidFields(t, err, "reason")
	_, err = e.alice.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "mine"}, metav1.CreateOptions{})
	expectStatus(t, err, 403)

	got, err := e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: 30 * time.Minute}, Reason: "still debugging"}, metav1.CreateOptions{})
	mustSucceed(t, "extending", got, err)
	if want := active.Status.ExpiresAt.Add(30 * time.Minute); !got.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt = %s, want %s", got.Status.ExpiresAt, want)
	}
	// Extensions stop at activatedAt + the maximum of 8h.
	got, err = e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: 24 * time.Hour}, Reason: "long night"}, metav1.CreateOptions{})
	mustSucceed(t, "extending to the cap", got, err)
	if want := active.Status.ActivatedAt.Add(8 * time.Hour); !got.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expiresAt = %s, want the cap %s", got.Status.ExpiresAt, want)
	}
	_, err = e.carol.JanusV1alpha1().AccessRequests().Extend(ctx(t), ar.Name, &v1alpha1.Extension{Duration: metav1.Duration{Duration: time.Hour}, Reason: "more"}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "limit")
	if len(got.Status.Extensions) != 2 {
		t.Errorf("extensions = %+v, want two records", got.Status.Extensions)
	}
}

func testSpecImmutable(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	changed := ar.DeepCopy()
	changed.Spec.Namespaces = []string{"payments", "default"}
	_, err := e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), changed, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "spec")

	labelled := ar.DeepCopy()
	labelled.Labels = map[string]string{"incident": "inc-1234"}
	got, err := e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), labelled, metav1.UpdateOptions{})
	mustSucceed(t, "labelling", got, err)
	if got.Labels["incident"] != "inc-1234" {
		t.Errorf("labels = %v, want the new label", got.Labels)
	}
	// A requester holds no update permission at all.
	_, err = e.alice.JanusV1alpha1().AccessRequests().Update(ctx(t), got, metav1.UpdateOptions{})
	expectStatus(t, err, 403)
}

func testStatusProtected(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	// Status written through the main resource is ignored.
	sneaky := ar.DeepCopy()
	sneaky.Status.Phase = v1alpha1.AccessRequestApproved
	got, err := e.admin.JanusV1alpha1().AccessRequests().Update(ctx(t), sneaky, metav1.UpdateOptions{})
	mustSucceed(t, "updating", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestPending {
		t.Errorf("phase = %s after an update of the main resource, want Pending", got.Status.Phase)
	}
	// The status subresource enforces the lifecycle.
	jump := got.DeepCopy()
	jump.Status.Phase = v1alpha1.AccessRequestActive
	_, err = e.admin.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), jump, metav1.UpdateOptions{})
	expectInvalidFields(t, err, "status.phase")
	// Requesters and approvers may not write status.
	_, err = e.carol.JanusV1alpha1().AccessRequests().UpdateStatus(ctx(t), got, metav1.UpdateOptions{})
	expectStatus(t, err, 403)
}

func testFieldSelectors(t *testing.T, e *env) {
	create(t, e.carol, request("prod", time.Hour, "payments"))
	list, err := e.admin.JanusV1alpha1().AccessRequests().List(ctx(t), metav1.ListOptions{FieldSelector: "spec.requester.username=carol,spec.cluster=prod"})
	if err != nil {
		t.Fatalf("listing by requester and cluster: %v", err)
	}
	if len(list.Items) == 0 {
		t.Fatalf("no requests by carol on prod found")
	}
	for _, ar := range list.Items {
		if ar.Spec.Requester.Username != "carol" || ar.Spec.Cluster != "prod" {
			t.Errorf("field selector returned %s by %s on %s", ar.Name, ar.Spec.Requester.Username, ar.Spec.Cluster)
		}
	}
	pending, err := e.admin.JanusV1alpha1().AccessRequests().List(ctx(t), metav1.ListOptions{FieldSelector: "status.phase=Pending"})
	if err != nil {
		t.Fatalf("listing by phase: %v", err)
	}
	all := countRequests(t, e.admin)
	if len(pending.Items) == 0 || len(pending.Items) >= all {
		t.Errorf("status.phase=Pending selected %d of %d requests; want some but not all", len(pending.Items), all)
	}
	for _, ar := range pending.Items {
		if ar.Status.Phase != v1alpha1.AccessRequestPending {
			t.Errorf("status.phase=Pending returned %s in %s", ar.Name, ar.Status.Phase)
		}
	}
	_, err = e.admin.JanusV1alpha1().AccessRequests().List(ctx(t), metav1.ListOptions{FieldSelector: "spec.reason=x"})
	expectStatus(t, err, 400, "spec.reason")
}

func testWatch(t *testing.T, e *env) {
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	w, err := e.alice.JanusV1alpha1().AccessRequests().Watch(ctx(t), metav1.ListOptions{
		FieldSelector:   "metadata.name=" + ar.Name,
		ResourceVersion: ar.ResourceVersion,
	})
	if err != nil {
		t.Fatalf("watching: %v", err)
	}
	defer w.Stop()
	_, err = e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approving", nil, err)
	timeout := time.After(15 * time.Second)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatalf("watch closed before the approval was seen")
			}
			if got, isAR := ev.Object.(*v1alpha1.AccessRequest); isAR && ev.Type == watch.Modified && got.Status.Phase == v1alpha1.AccessRequestApproved {
				return
			}
		case <-timeout:
			t.Fatalf("no MODIFIED event with phase Approved within 15s")
		}
	}
}

// testRace sends an approval, a denial and a withdrawal of the same pending
// request at once, each based on the resourceVersion its author read:
// exactly one wins, the others get 409 Conflict.
func testRace(t *testing.T, e *env) {
	for round := range 8 {
		ar := create(t, e.alice, request("dev", time.Hour, "payments"))
		seen := metav1.ObjectMeta{ResourceVersion: ar.ResourceVersion}
		decisions := map[string]func() error{
			"approve": func() error {
				_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{ObjectMeta: seen}, metav1.CreateOptions{})
				return err
			},
			"deny": func() error {
				_, err := e.carol.JanusV1alpha1().AccessRequests().Deny(ctx(t), ar.Name, &v1alpha1.Denial{ObjectMeta: seen, Reason: "race"}, metav1.CreateOptions{})
				return err
			},
			"withdraw": func() error {
				_, err := e.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx(t), ar.Name, &v1alpha1.Withdrawal{ObjectMeta: seen}, metav1.CreateOptions{})
				return err
			},
		}
		var (
			mu      sync.Mutex
			winners []string
			wg      sync.WaitGroup
			start   = make(chan struct{})
		)
		for name, decide := range decisions {
			wg.Go(func() {
				<-start
				err := decide()
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					winners = append(winners, name)
				case apierrors.IsConflict(err):
				default:
					t.Errorf("round %d: %s failed with %v, want success or 409", round, name, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: winners %v, want exactly one", round, winners)
		}
		got, err := e.admin.JanusV1alpha1().AccessRequests().Get(ctx(t), ar.Name, metav1.GetOptions{})
		mustSucceed(t, "reading back", got, err)
		want := map[string]v1alpha1.AccessRequestPhase{"approve": v1alpha1.AccessRequestApproved, "deny": v1alpha1.AccessRequestDenied, "withdraw": v1alpha1.AccessRequestWithdrawn}[winners[0]]
		if got.Status.Phase != want {
			t.Errorf("round %d: %s won but the request is %s", round, winners[0], got.Status.Phase)
		}
	}
}

// testStaleVersion: a decision based on an old resourceVersion loses even
// when the phase still allows it, so a quorum approver sees the other's vote.
func testStaleVersion(t *testing.T, e *env) {
	ar := create(t, e.alice, request("prod", time.Hour, "payments"))
	stale := metav1.ObjectMeta{ResourceVersion: ar.ResourceVersion}
	_, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{ObjectMeta: stale}, metav1.CreateOptions{})
	mustSucceed(t, "first approval", nil, err)
	_, err = e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{ObjectMeta: stale}, metav1.CreateOptions{})
	expectStatus(t, err, 409, "resourceVersion")
	got, err := e.erin.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "approval without a version", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestApproved {
		t.Errorf("phase = %s, want Approved", got.Status.Phase)
	}
}

func findCondition(ar *v1alpha1.AccessRequest, condType string) *metav1.Condition {
	for i := range ar.Status.Conditions {
		if ar.Status.Conditions[i].Type == condType {
			return &ar.Status.Conditions[i]
		}
	}
	return nil
}
