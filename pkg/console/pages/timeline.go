package pages

import (
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// timelineEntry is one line of a request's story on the detail page.
type timelineEntry struct {
	Time time.Time
	// Kind is a stable word for tests and styling: requested, approved,
	// extended, decided, condition, event, expires.
	Kind string
	// Title says what happened and who did it: "Approved by bob".
	Title string
	// Detail is the reason someone gave, or the condition's or Event's message.
	Detail string
	// Source says where the line comes from: decision, condition or Event.
	Source string
	// Warning marks a Warning Event or a condition that is False.
	Warning bool
	// repeats are the reasons of the Events Janus files for the same step
	// (an entry absorbs one of them, filed at about the same time).
	repeats []string
}

// eventLag is how long after a step its Event may be filed and still be
// taken for that step's Event rather than a step of its own.
const eventLag = 10 * time.Second

// absorbs says whether the Event with reason, filed at t, tells x again.
func (x *timelineEntry) absorbs(reason string, t time.Time) bool {
	return slices.Contains(x.repeats, reason) && !t.Before(x.Time.Add(-time.Second)) && !t.After(x.Time.Add(eventLag))
}

// decisionConditions are the condition types that are written in the same
// transition as a recorded decision, at the decision's time; the timeline
// shows the decision (who, why) and folds the condition into it.
var decisionConditions = map[v1alpha1.AccessRequestPhase]string{
	v1alpha1.AccessRequestDenied:    v1alpha1.ConditionDenied,
	v1alpha1.AccessRequestRevoked:   v1alpha1.ConditionRevoked,
	v1alpha1.AccessRequestWithdrawn: v1alpha1.ConditionWithdrawn,
}

// timelineOf merges what the request records (its creation, approvals,
// extensions, final decision and conditions) with the Events filed about it
// into one list in time order. A condition set by a decision at the same
// second is folded into that decision, and an Event that tells a recorded
// step again is folded into that step (its source then says so); an
// expiry still to come ends the list.
func timelineOf(ar *v1alpha1.AccessRequest, events []corev1.Event) []timelineEntry {
	st := ar.Status
	out := []timelineEntry{{
		Time: ar.CreationTimestamp.Time, Kind: "requested", Source: "request",
		Title:  fmt.Sprintf("Requested by %s: %s for %s in %s", orDash(ar.Spec.Requester.Username), shortDuration(ar.Spec.Duration.Duration), strings.Join(ar.Spec.Namespaces, ", "), ar.Spec.Cluster),
		Detail: ar.Spec.Reason, repeats: []string{"Requested"},
	}}
	// folded: condition type and second of the decisions that set them.
	folded := map[string]bool{}
	fold := func(conditionType string, t metav1.Time) {
		folded[conditionType+"@"+t.UTC().Truncate(time.Second).Format(time.RFC3339)] = true
	}
	for _, a := range st.Approvals {
		title := "Approved by " + a.User
		if a.Duration != nil {
			title += " for " + shortDuration(a.Duration.Duration)
		}
		out = append(out, timelineEntry{Time: a.Time.Time, Kind: "approved", Source: "decision", Title: title, Detail: a.Reason, repeats: []string{"Approved", "ApprovalRecorded"}})
		fold(v1alpha1.ConditionApproved, a.Time)
	}
	for _, e := range st.Extensions {
		title := "Extended by " + e.User
		if e.Duration != nil {
			title += " by " + shortDuration(e.Duration.Duration)
		}
		out = append(out, timelineEntry{Time: e.Time.Time, Kind: "extended", Source: "decision", Title: title, Detail: e.Reason, repeats: []string{"Extended"}})
		fold(v1alpha1.ConditionExtended, e.Time)
	}
	if d := st.Decision; d != nil {
		word := "Decided"
		if ct, ok := decisionConditions[st.Phase]; ok {
			word = string(st.Phase)
			fold(ct, d.Time)
		}
		out = append(out, timelineEntry{Time: d.Time.Time, Kind: "decided", Source: "decision", Title: word + " by " + orDash(d.User), Detail: d.Reason, repeats: []string{word, "PendingTimeout"}})
	}
	for _, c := range st.Conditions {
		if folded[c.Type+"@"+c.LastTransitionTime.UTC().Truncate(time.Second).Format(time.RFC3339)] {
			continue
		}
		title := c.Type
		if c.Status != metav1.ConditionTrue {
			title += " " + string(c.Status)
		}
		if c.Reason != "" && c.Reason != c.Type {
			title += " (" + c.Reason + ")"
		}
		out = append(out, timelineEntry{Time: c.LastTransitionTime.Time, Kind: "condition", Source: "condition", Title: title, Detail: c.Message, Warning: c.Status == metav1.ConditionFalse, repeats: []string{c.Type, c.Reason}})
	}
	// The Provisioned condition keeps only its last transition: once the
	// grant is removed, the activation is told by activatedAt alone.
	if a := st.ActivatedAt; a != nil && !slices.ContainsFunc(st.Conditions, func(c metav1.Condition) bool {
		return c.Type == v1alpha1.ConditionProvisioned && c.Status == metav1.ConditionTrue
	}) {
		out = append(out, timelineEntry{Time: a.Time, Kind: "began", Source: "request", Title: "Access began", repeats: []string{"Provisioned"}})
	}
	for i := range events {
		e := &events[i]
		at := eventTime(e)
		if j := slices.IndexFunc(out, func(x timelineEntry) bool { return x.absorbs(e.Reason, at) }); j >= 0 && e.Count <= 1 {
			out[j].Source += " · Event"
			out[j].repeats = nil
			continue
		}
		title := e.Reason
		if e.Count > 1 {
			title += fmt.Sprintf(" (×%d)", e.Count)
		}
		out = append(out, timelineEntry{Time: at, Kind: "event", Source: "Event", Title: title, Detail: e.Message, Warning: e.Type == corev1.EventTypeWarning})
	}
	if st.ExpiresAt != nil && (st.Phase == v1alpha1.AccessRequestActive || st.Phase == v1alpha1.AccessRequestApproved) {
		out = append(out, timelineEntry{Time: st.ExpiresAt.Time, Kind: "expires", Source: "request", Title: "Access ends"})
	}
	// Stable: at the same second, the request's own record comes before
	// conditions, and those before Events, in the order appended above.
	slices.SortStableFunc(out, func(a, b timelineEntry) int { return a.Time.Compare(b.Time) })
	return out
}

// eventTime is when an Event last happened, whichever API filled it in.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.FirstTimestamp.IsZero():
		return e.FirstTimestamp.Time
	}
	return e.CreationTimestamp.Time
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
