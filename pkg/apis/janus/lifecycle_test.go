package janus

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEndByDecisionRecordsWhoAndWhy(t *testing.T) {
	at := metav1.Now()
	cases := []struct {
		phase           AccessRequestPhase
		decision        Decision
		conditionReason string
		wantMessage     string
		wantCondition   string
	}{
		{AccessRequestDenied, Decision{User: "bob", UID: "u-bob", Time: at, Reason: "not now"}, "Denied", "denied by bob: not now", ConditionDenied},
		{AccessRequestDenied, Decision{User: "janus", Time: at, Reason: "no decision within 1h0m0s"}, "PendingTimeout", "denied by janus: no decision within 1h0m0s", ConditionDenied},
		{AccessRequestRevoked, Decision{Time: at, Reason: DecisionReasonDeleted}, "Deleted", "revoked: deleted", ConditionRevoked},
		{AccessRequestWithdrawn, Decision{User: "alice", Time: at}, "Withdrawn", "withdrawn by alice", ConditionWithdrawn},
	}
	for _, tc := range cases {
		t.Run(tc.wantMessage, func(t *testing.T) {
			ar := &AccessRequest{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Status: AccessRequestStatus{Phase: AccessRequestPending}}
			if err := EndByDecision(ar, tc.phase, tc.decision, tc.conditionReason); err != nil {
				t.Fatal(err)
			}
			if ar.Status.Phase != tc.phase || ar.Status.Message != tc.wantMessage || *ar.Status.Decision != tc.decision {
				t.Errorf("status %+v, want phase %s, message %q and the decision", ar.Status, tc.phase, tc.wantMessage)
			}
			c := meta.FindStatusCondition(ar.Status.Conditions, tc.wantCondition)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != tc.conditionReason || c.Message != tc.wantMessage || c.ObservedGeneration != 3 || !c.LastTransitionTime.Equal(&at) {
				t.Errorf("condition %+v", c)
			}
		})
	}
}

func TestEndByDecisionRefusesPhasesNobodyDecides(t *testing.T) {
	for _, phase := range []AccessRequestPhase{AccessRequestApproved, AccessRequestActive, AccessRequestExpired, AccessRequestFailed} {
		ar := &AccessRequest{Status: AccessRequestStatus{Phase: AccessRequestPending}}
		if err := EndByDecision(ar, phase, Decision{User: "bob"}, "x"); err == nil || ar.Status.Phase != AccessRequestPending {
			t.Errorf("%s: err %v, phase %s; want an error and no change", phase, err, ar.Status.Phase)
		}
	}
}
