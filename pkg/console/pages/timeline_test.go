package pages

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

func TestTimelineMergesRecordConditionsAndEventsInTimeOrder(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-1", CreationTimestamp: at(0)},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour},
			Reason: "INC-1", Requester: v1alpha1.UserInfo{Username: "alice"},
		},
		Status: v1alpha1.AccessRequestStatus{
			Phase:      v1alpha1.AccessRequestRevoked,
			Approvals:  []v1alpha1.Decision{{User: "bob", Time: at(2 * time.Minute), Reason: "ok", Duration: &metav1.Duration{Duration: 30 * time.Minute}}},
			Extensions: []v1alpha1.Decision{{User: "carol", Time: at(20 * time.Minute), Reason: "more", Duration: &metav1.Duration{Duration: 15 * time.Minute}}},
			Decision:   &v1alpha1.Decision{User: "carol", Time: at(30 * time.Minute), Reason: "done"},
			// Conditions are a map by type, in no time order.
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionRevoked, Status: metav1.ConditionTrue, Reason: "Revoked", Message: "revoked by carol: done", LastTransitionTime: at(30 * time.Minute)},
				{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, Reason: "Approved", Message: "approved by bob", LastTransitionTime: at(2 * time.Minute)},
				{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonGrantRemoved, Message: "grant removed", LastTransitionTime: at(31 * time.Minute)},
				{Type: v1alpha1.ConditionExtended, Status: metav1.ConditionTrue, Reason: "Extended", Message: "extended", LastTransitionTime: at(20 * time.Minute)},
			},
			ActivatedAt: ptr(at(3 * time.Minute)),
			ExpiresAt:   ptr(at(45 * time.Minute)),
		},
	}
	events := []corev1.Event{
		{Reason: "Provisioned", Message: "Access granted", Type: corev1.EventTypeNormal, LastTimestamp: at(3 * time.Minute)},
		{Reason: "GrantFailed", Message: "agent said no", Type: corev1.EventTypeWarning, Count: 3, EventTime: metav1.NewMicroTime(t0.Add(time.Minute))},
	}

	got := timelineOf(ar, events)
	var lines []string
	for i, e := range got {
		if i > 0 && e.Time.Before(got[i-1].Time) {
			t.Errorf("entry %d (%s at %s) comes before entry %d at %s", i, e.Title, e.Time, i-1, got[i-1].Time)
		}
		lines = append(lines, e.Kind+": "+e.Title)
	}
	want := []string{
		"requested: Requested by alice: 1h for payments in dev",
		"event: GrantFailed (×3)",
		"approved: Approved by bob for 30m",
		"began: Access began", // Provisioned is False now: activatedAt tells it, and its Event is folded in
		"extended: Extended by carol by 15m",
		"decided: Revoked by carol",
		"condition: Provisioned False (GrantRemoved)",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if !got[1].Warning || !got[6].Warning {
		t.Errorf("the Warning Event and the False condition are not marked: %+v, %+v", got[1], got[6])
	}
	if got[5].Detail != "done" {
		t.Errorf("the revocation's detail is %q, want carol's reason", got[5].Detail)
	}
	if got[3].Source != "request · Event" {
		t.Errorf("the activation's source is %q, want it to say its Event is folded in", got[3].Source)
	}
}

func TestTimelineEndsWithTheExpiryOfLiveAccess(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)},
		Status: v1alpha1.AccessRequestStatus{
			Phase:     v1alpha1.AccessRequestActive,
			ExpiresAt: ptr(metav1.NewTime(t0.Add(time.Hour))),
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionProvisioned, Status: metav1.ConditionTrue, Reason: "Provisioned", LastTransitionTime: metav1.NewTime(t0.Add(time.Minute))},
			},
		},
	}
	got := timelineOf(ar, nil)
	if n := len(got); n != 3 || got[n-1].Kind != "expires" || !got[n-1].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("timeline %+v, want requested, Provisioned, then the expiry", got)
	}
	if got[1].Title != "Provisioned" {
		t.Errorf("a condition whose reason repeats its type reads %q, want just Provisioned", got[1].Title)
	}
	ar.Status.Phase = v1alpha1.AccessRequestExpired
	for _, e := range timelineOf(ar, nil) {
		if e.Kind == "expires" {
			t.Errorf("an expired request still shows its expiry to come: %+v", e)
		}
	}
}

func TestTimelineKeepsAConditionNotSetByADecision(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	// Two approvals: the Approved condition is set at the second, so the
	// first approval's time folds nothing and the condition is folded
	// into the second.
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "prod", Namespaces: []string{"a", "b"}, Duration: metav1.Duration{Duration: 2 * time.Hour},
			Requester: v1alpha1.UserInfo{Username: "alice"},
		},
		Status: v1alpha1.AccessRequestStatus{
			Phase: v1alpha1.AccessRequestApproved,
			Approvals: []v1alpha1.Decision{
				{User: "bob", Time: metav1.NewTime(t0.Add(time.Minute))},
				{User: "carol", Time: metav1.NewTime(t0.Add(2 * time.Minute))},
			},
			Conditions: []metav1.Condition{
				{Type: v1alpha1.ConditionApproved, Status: metav1.ConditionTrue, Reason: "Approved", LastTransitionTime: metav1.NewTime(t0.Add(2 * time.Minute))},
				// Denied by the pending timeout: no decision by a person at that time.
				{Type: v1alpha1.ConditionDenied, Status: metav1.ConditionTrue, Reason: "PendingTimeout", LastTransitionTime: metav1.NewTime(t0.Add(3 * time.Minute))},
			},
		},
	}
	var kinds []string
	for _, e := range timelineOf(ar, nil) {
		kinds = append(kinds, e.Kind+":"+e.Title)
	}
	want := "requested:Requested by alice: 2h for a, b in prod|approved:Approved by bob|approved:Approved by carol|condition:Denied (PendingTimeout)"
	if got := strings.Join(kinds, "|"); got != want {
		t.Errorf("timeline %s\nwant     %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

func TestTimelineFoldsAnEventThatRepeatsARecordedStep(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{CreationTimestamp: metav1.NewTime(t0)},
		Spec:       v1alpha1.AccessRequestSpec{Requester: v1alpha1.UserInfo{Username: "alice"}},
		Status: v1alpha1.AccessRequestStatus{
			Phase:     v1alpha1.AccessRequestPending,
			Approvals: []v1alpha1.Decision{{User: "bob", Time: metav1.NewTime(t0.Add(time.Minute))}},
		},
	}
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(t0.Add(d)) }
	events := []corev1.Event{
		{Reason: "Requested", LastTimestamp: at(time.Second)},
		{Reason: "ApprovalRecorded", LastTimestamp: at(time.Minute + 2*time.Second)},
		// A second Requested Event long after is a step of its own.
		{Reason: "Requested", LastTimestamp: at(time.Hour)},
		// Repeated Events keep their count on a line of their own.
		{Reason: "ApprovalRecorded", Count: 2, LastTimestamp: at(time.Minute + 3*time.Second)},
	}
	var lines []string
	for _, e := range timelineOf(ar, events) {
		lines = append(lines, e.Kind+" "+e.Source+": "+e.Title)
	}
	want := []string{
		"requested request · Event: Requested by alice: 0s for  in ",
		"approved decision · Event: Approved by bob",
		"event Event: ApprovalRecorded (×2)",
		"event Event: Requested",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
