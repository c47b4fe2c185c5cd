package agent

import (
	"testing"

	"k8s.io/component-base/metrics/testutil"
)

// TestEnsureAndRemoveTimeEachStep: a grant made and removed is counted
// once in every step of janus_agent_grant_step_duration_seconds, so its
// histograms tell where a slow grant or removal spent its time.
func TestEnsureAndRemoveTimeEachStep(t *testing.T) {
	g := newGrantTest(t)
	steps := []string{stepCheck, stepObjects, stepToken, stepDelete, stepSweep}
	counts := func() map[string]uint64 {
		out := map[string]uint64{}
		for _, step := range steps {
			n, err := testutil.GetHistogramMetricCount(grantStepDuration.WithLabelValues(step))
			if err != nil {
				t.Fatal(err)
			}
			out[step] = n
		}
		return out
	}
	before := counts()
	if _, err := g.provisioner.Ensure(g.ctx, grantSpec(g.request, g.payments)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := g.provisioner.Remove(g.ctx, g.request); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	after := counts()
	for _, step := range steps {
		if got := after[step] - before[step]; got != 1 {
			t.Errorf("step %s was timed %d times for one grant and its removal, want 1", step, got)
		}
	}
}
