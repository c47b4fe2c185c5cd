package janus

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// decidedEnds are the final phases somebody decides on, with the condition
// each sets and the word status.message uses for it.
var decidedEnds = map[AccessRequestPhase]struct{ condition, word string }{
	AccessRequestDenied:    {ConditionDenied, "denied"},
	AccessRequestRevoked:   {ConditionRevoked, "revoked"},
	AccessRequestWithdrawn: {ConditionWithdrawn, "withdrawn"},
}

// EndByDecision moves ar to phase, a final phase somebody decided on
// (Denied, Revoked or Withdrawn): it records the decision, says in
// status.message who decided and why ("denied by bob: not now"), and sets
// the phase's condition with conditionReason. The decision subresources
// and the lifecycle controller (pending timeout, deletion) all end
// requests through it, so an ending reads the same whoever wrote it.
func EndByDecision(ar *AccessRequest, phase AccessRequestPhase, d Decision, conditionReason string) error {
	end, ok := decidedEnds[phase]
	if !ok {
		return fmt.Errorf("%s is not a phase anybody decides on", phase)
	}
	ar.Status.Phase = phase
	ar.Status.Decision = &d
	ar.Status.Message = end.word
	if d.User != "" {
		ar.Status.Message += " by " + d.User
	}
	if d.Reason != "" {
		ar.Status.Message += ": " + d.Reason
	}
	meta.SetStatusCondition(&ar.Status.Conditions, metav1.Condition{
		Type:               end.condition,
		Status:             metav1.ConditionTrue,
		Reason:             conditionReason,
		Message:            ar.Status.Message,
		ObservedGeneration: ar.Generation,
		LastTransitionTime: d.Time,
	})
	return nil
}
