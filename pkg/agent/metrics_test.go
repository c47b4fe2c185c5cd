package agent

import (
	"testing"

	"k8s.io/component-base/metrics/testutil"
)

// TestEnsureAndRemoveTimeEachStep: a grant made and removed is counted
// once in every step of janus_agent_grant_step_duration_seconds it took,
// so its histograms tell where a slow grant or removal spent its time.
// The agent that made the grant removes it without a sweep; one that did
// not (restarted since) sweeps and has nothing of its own to delete.
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
	requireTimed := func(what string, before, after map[string]uint64, want map[string]uint64) {
		t.Helper()
		for _, step := range steps {
			if got := after[step] - before[step]; got != want[step] {
				t.Errorf("%s: step %s was timed %d times, want %d", what, step, got, want[step])
			}
		}
	}

	before := counts()
	if _, err := g.provisioner.Ensure(g.ctx, grantSpec(g.request, g.payments)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if err := g.provisioner.Remove(g.ctx, g.request); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	requireTimed("a grant and its removal by the same agent", before, counts(),
		map[string]uint64{stepCheck: 1, stepObjects: 1, stepToken: 1, stepDelete: 1})
	requireNoGrantObjects(t, g.ctx, g.cluster.Admin, g.request)

	if _, err := g.provisioner.Ensure(g.ctx, grantSpec(g.request, g.payments)); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	restarted := NewProvisioner(g.cluster.Admin, g.agentNS, DefaultExcludedNamespaces)
	before = counts()
	if err := restarted.Remove(g.ctx, g.request); err != nil {
		t.Fatalf("Remove by a restarted agent: %v", err)
	}
	requireTimed("a removal by a restarted agent", before, counts(), map[string]uint64{stepSweep: 1})
	requireNoGrantObjects(t, g.ctx, g.cluster.Admin, g.request)
}
