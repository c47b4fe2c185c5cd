package accessrequest

import (
	"math"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/component-base/metrics/testutil"

	"github.com/infroware/janus/pkg/apis/janus"
)

func withPhase(ar *janus.AccessRequest, phase janus.AccessRequestPhase) *janus.AccessRequest {
	out := ar.DeepCopy()
	out.Status.Phase = phase
	return out
}

func transitions(t *testing.T, from, to janus.AccessRequestPhase) float64 {
	t.Helper()
	v, err := testutil.GetCounterMetricValue(phaseTransitions.WithLabelValues(string(from), string(to)))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// histogram is the count and sum of a histogram as /metrics shows it.
func histogram(t *testing.T, name string) (uint64, float64) {
	t.Helper()
	vec, err := testutil.GetHistogramVecFromGatherer(legacyregistry.DefaultGatherer, name, nil)
	if err != nil {
		return 0, 0 // nothing observed yet
	}
	return vec.GetAggregatedSampleCount(), vec.GetAggregatedSampleSum()
}

func near(got, want float64) bool { return math.Abs(got-want) < 1e-6 }

func TestStatusWritesCountTransitionsAndTimeActivationAndExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	pending := &janus.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "alice-1", UID: types.UID("uid-1")}}
	pending.Status.Phase = janus.AccessRequestPending

	toApproved := transitions(t, janus.AccessRequestPending, janus.AccessRequestApproved)
	toActive := transitions(t, janus.AccessRequestApproved, janus.AccessRequestActive)
	toExpired := transitions(t, janus.AccessRequestActive, janus.AccessRequestExpired)
	n0, sum0 := histogram(t, "janus_accessrequest_activation_duration_seconds")
	l0, lsum0 := histogram(t, "janus_accessrequest_expiry_lateness_seconds")

	approved := withPhase(pending, janus.AccessRequestApproved)
	observeWrite(pending, approved, t0)
	// A status write that changes no phase (a session counted) counts nothing.
	observeWrite(approved, approved.DeepCopy(), t0.Add(time.Millisecond))
	active := withPhase(approved, janus.AccessRequestActive)
	active.Status.ExpiresAt = &metav1.Time{Time: t0.Add(time.Hour)}
	observeWrite(approved, active, t0.Add(30*time.Millisecond))
	observeWrite(active, withPhase(active, janus.AccessRequestExpired), t0.Add(time.Hour+200*time.Millisecond))

	for _, c := range []struct {
		from, to janus.AccessRequestPhase
		before   float64
	}{
		{janus.AccessRequestPending, janus.AccessRequestApproved, toApproved},
		{janus.AccessRequestApproved, janus.AccessRequestActive, toActive},
		{janus.AccessRequestActive, janus.AccessRequestExpired, toExpired},
	} {
		if got := transitions(t, c.from, c.to) - c.before; got != 1 {
			t.Errorf("%s→%s moved by %v, want 1", c.from, c.to, got)
		}
	}
	if n, sum := histogram(t, "janus_accessrequest_activation_duration_seconds"); n-n0 != 1 || !near(sum-sum0, 0.030) {
		t.Errorf("activation histogram moved by %d observations summing %vs, want 1 of 0.030s (timed from the remembered approval)", n-n0, sum-sum0)
	}
	if n, sum := histogram(t, "janus_accessrequest_expiry_lateness_seconds"); n-l0 != 1 || !near(sum-lsum0, 0.200) {
		t.Errorf("expiry lateness moved by %d observations summing %vs, want 1 of 0.200s", n-l0, sum-lsum0)
	}
}

func TestActivationApprovedElsewhereIsTimedFromTheApprovedCondition(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	approved := &janus.AccessRequest{ObjectMeta: metav1.ObjectMeta{Name: "bob-1", UID: types.UID("uid-elsewhere")}}
	approved.Status.Phase = janus.AccessRequestApproved
	approved.Status.Conditions = []metav1.Condition{{Type: janus.ConditionApproved, Status: metav1.ConditionTrue, LastTransitionTime: metav1.NewTime(t0)}}
	n0, sum0 := histogram(t, "janus_accessrequest_activation_duration_seconds")
	observeWrite(approved, withPhase(approved, janus.AccessRequestActive), t0.Add(2*time.Second))
	if n, sum := histogram(t, "janus_accessrequest_activation_duration_seconds"); n-n0 != 1 || !near(sum-sum0, 2) {
		t.Errorf("activation histogram moved by %d observations summing %vs, want 1 of 2s", n-n0, sum-sum0)
	}
}
