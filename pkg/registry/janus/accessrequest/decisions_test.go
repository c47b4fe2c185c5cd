package accessrequest

import (
	"context"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// clusterPolicy is a ClusterGetter holding one Cluster.
type clusterPolicy struct{ cluster *janus.Cluster }

func (c clusterPolicy) GetCluster(_ context.Context, name string) (*janus.Cluster, error) {
	if c.cluster == nil || c.cluster.Name != name {
		return nil, apierrors.NewNotFound(janus.Resource("clusters"), name)
	}
	return c.cluster, nil
}

// approversOf allows approve on clusters/<cluster> to the named users.
type approversOf map[string]string

func (a approversOf) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	if a[attrs.GetUser().GetName()] == attrs.GetName() && attrs.GetVerb() == VerbApprove && attrs.GetResource() == "clusters" {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}

func decisionsUnderTest(required int32) map[string]decision {
	cluster := &janus.Cluster{ObjectMeta: metav1.ObjectMeta{Name: "dev"}, Spec: janus.ClusterSpec{Approval: janus.ApprovalPolicy{Required: required}}}
	authz := decisionAuthorizer{authorizer: authorizer.AuthorizerFunc(approversOf{"bob": "dev", "carol": "dev", "alice": "dev", "mallory": "dev"}.Authorize)}
	policy := validation.Policy{MinDuration: 10 * time.Minute, MaxDuration: 8 * time.Hour}
	return map[string]decision{
		"approve":  approveDecision{authz: authz, clusters: clusterPolicy{cluster}, policy: policy},
		"deny":     denyDecision{authz: authz},
		"revoke":   revokeDecision{authz: authz},
		"withdraw": withdrawDecision{authz: authz},
		"extend":   extendDecision{authz: authz, clusters: clusterPolicy{cluster}, policy: policy},
	}
}

func requestIn(phase janus.AccessRequestPhase) *janus.AccessRequest {
	ar := &janus.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-1"},
		Spec: janus.AccessRequestSpec{Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour},
			Requester: janus.UserInfo{Username: "alice", UID: "u-alice"}},
		Status: janus.AccessRequestStatus{Phase: phase, RequiredApprovals: 1},
	}
	if phase == janus.AccessRequestActive {
		start := metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		end := metav1.NewTime(start.Add(time.Hour))
		ar.Status.ActivatedAt, ar.Status.ExpiresAt = &start, &end
	}
	return ar
}

func bodyOf(verb string) runtime.Object {
	switch verb {
	case "approve":
		return &janus.Approval{Reason: "ok"}
	case "deny":
		return &janus.Denial{Reason: "no"}
	case "revoke":
		return &janus.Revocation{Reason: "done"}
	case "withdraw":
		return &janus.Withdrawal{Reason: "fixed"}
	}
	return &janus.Extension{Duration: metav1.Duration{Duration: 30 * time.Minute}, Reason: "more"}
}

// TestEachDecisionAppliesOnlyInItsPhases: the lifecycle's table, decision
// by decision: where it applies, the phase it leads to; elsewhere a 409
// that names the phase, and nothing changed.
func TestEachDecisionAppliesOnlyInItsPhases(t *testing.T) {
	leadsTo := map[string]map[janus.AccessRequestPhase]janus.AccessRequestPhase{
		"approve":  {janus.AccessRequestPending: janus.AccessRequestApproved},
		"deny":     {janus.AccessRequestPending: janus.AccessRequestDenied},
		"revoke":   {janus.AccessRequestApproved: janus.AccessRequestRevoked, janus.AccessRequestActive: janus.AccessRequestRevoked},
		"withdraw": {janus.AccessRequestPending: janus.AccessRequestWithdrawn, janus.AccessRequestApproved: janus.AccessRequestWithdrawn, janus.AccessRequestActive: janus.AccessRequestWithdrawn},
		"extend":   {janus.AccessRequestActive: janus.AccessRequestActive},
	}
	decider := map[string]user.Info{
		"approve": &user.DefaultInfo{Name: "bob", UID: "u-bob"}, "deny": &user.DefaultInfo{Name: "bob"},
		"revoke": &user.DefaultInfo{Name: "bob"}, "withdraw": &user.DefaultInfo{Name: "alice", UID: "u-alice"},
		"extend": &user.DefaultInfo{Name: "bob"},
	}
	now := metav1.NewTime(time.Date(2026, 12, 1, 12, 10, 0, 0, time.UTC))
	for verb, d := range decisionsUnderTest(1) {
		for _, phase := range validation.Phases() {
			t.Run(verb+" "+string(phase), func(t *testing.T) {
				ar := requestIn(phase)
				before := ar.DeepCopy()
				err := d.apply(context.Background(), decisionContext{user: decider[verb], body: bodyOf(verb), now: now}, ar)
				want, applies := leadsTo[verb][phase]
				switch {
				case applies && err != nil:
					t.Fatalf("%s on a %s request: %v", verb, phase, err)
				case applies && ar.Status.Phase != want:
					t.Fatalf("%s on a %s request left it %s, want %s", verb, phase, ar.Status.Phase, want)
				case !applies && (!apierrors.IsConflict(err) || !strings.Contains(err.Error(), string(phase))):
					t.Fatalf("%s on a %s request: %v, want a 409 naming the phase", verb, phase, err)
				case !applies && ar.Status.Phase != before.Status.Phase:
					t.Fatalf("a refused %s changed the phase to %s", verb, ar.Status.Phase)
				}
			})
		}
	}
}

func TestDecisionsAskWhoMayDecide(t *testing.T) {
	cases := []struct {
		verb    string
		user    user.Info
		allowed bool
		message string
	}{
		{"approve", &user.DefaultInfo{Name: "bob"}, true, ""},
		{"approve", &user.DefaultInfo{Name: "dave"}, false, `it needs verb "approve" on resource "clusters"`},
		{"approve", &user.DefaultInfo{Name: "alice"}, false, "their own request"},
		{"approve", &user.DefaultInfo{Name: "mallory", UID: "u-alice"}, false, "their own request"},
		{"extend", &user.DefaultInfo{Name: "alice"}, false, "their own request"},
		{"extend", &user.DefaultInfo{Name: "dave"}, false, `it needs verb "approve"`},
		{"revoke", &user.DefaultInfo{Name: "dave"}, false, `it needs verb "approve"`},
		// Revoking or denying one's own request gives no access.
		{"revoke", &user.DefaultInfo{Name: "alice"}, true, ""},
		{"deny", &user.DefaultInfo{Name: "carol"}, true, ""},
		{"withdraw", &user.DefaultInfo{Name: "alice", UID: "u-alice"}, true, ""},
		// The requester is the same name and the same UID.
		{"withdraw", &user.DefaultInfo{Name: "alice", UID: "u-other"}, false, `only the requester "alice"`},
		{"withdraw", &user.DefaultInfo{Name: "bob"}, false, `only the requester "alice"`},
	}
	decisions := decisionsUnderTest(1)
	for _, tc := range cases {
		t.Run(tc.verb+" by "+tc.user.GetName(), func(t *testing.T) {
			err := decisions[tc.verb].authorize(context.Background(), tc.user, requestIn(janus.AccessRequestPending))
			if tc.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("%v, want a 403 saying %q", err, tc.message)
			}
		})
	}
}

func TestApprovalsCountDistinctPeopleByNameAndUID(t *testing.T) {
	approve := decisionsUnderTest(2)["approve"]
	now := metav1.Now()
	ar := requestIn(janus.AccessRequestPending)
	ar.Status.RequiredApprovals = 2
	steps := []struct {
		user      user.Info
		conflict  bool
		wantPhase janus.AccessRequestPhase
	}{
		{&user.DefaultInfo{Name: "bob", UID: "u-bob"}, false, janus.AccessRequestPending},
		{&user.DefaultInfo{Name: "bob", UID: "u-bob"}, true, janus.AccessRequestPending},
		{&user.DefaultInfo{Name: "robert", UID: "u-bob"}, true, janus.AccessRequestPending},
		{&user.DefaultInfo{Name: "carol", UID: "u-carol"}, false, janus.AccessRequestApproved},
	}
	for i, s := range steps {
		err := approve.apply(context.Background(), decisionContext{user: s.user, body: &janus.Approval{Reason: "ok"}, now: now}, ar)
		if s.conflict != apierrors.IsConflict(err) || (!s.conflict && err != nil) {
			t.Fatalf("step %d (%s): %v, want conflict=%v", i, s.user.GetName(), err, s.conflict)
		}
		if ar.Status.Phase != s.wantPhase {
			t.Fatalf("step %d (%s): phase %s, want %s", i, s.user.GetName(), ar.Status.Phase, s.wantPhase)
		}
	}
	if len(ar.Status.Approvals) != 2 {
		t.Errorf("approvals %+v, want bob's and carol's", ar.Status.Approvals)
	}
}

func TestExtensionStopsAtTheClustersMaximum(t *testing.T) {
	extend := decisionsUnderTest(1)["extend"]
	ar := requestIn(janus.AccessRequestActive)
	d := decisionContext{user: &user.DefaultInfo{Name: "bob"}, body: &janus.Extension{Duration: metav1.Duration{Duration: 24 * time.Hour}}, now: metav1.Now()}
	if err := extend.apply(context.Background(), d, ar); err != nil {
		t.Fatal(err)
	}
	if want := ar.Status.ActivatedAt.Add(8 * time.Hour); !ar.Status.ExpiresAt.Time.Equal(want) {
		t.Errorf("expires %s, want the cap %s", ar.Status.ExpiresAt, want)
	}
	if got := ar.Status.Extensions[0].Duration.Duration; got != 7*time.Hour {
		t.Errorf("extension recorded as %s, want the 7h actually added", got)
	}
	// At the cap, another extension is a conflict and changes nothing.
	before := ar.DeepCopy()
	if err := extend.apply(context.Background(), d, ar); !apierrors.IsConflict(err) || len(ar.Status.Extensions) != len(before.Status.Extensions) {
		t.Errorf("extending past the cap: %v, extensions %d; want a 409 and no change", err, len(ar.Status.Extensions))
	}
}
