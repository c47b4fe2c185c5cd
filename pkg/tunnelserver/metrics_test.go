package tunnelserver

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"
)

// connectedSeries is janus_tunnel_connected_agents{cluster} as /metrics
// shows it, and whether it is there at all.
func connectedSeries(t *testing.T, cluster string) (float64, bool) {
	t.Helper()
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "janus_tunnel_connected_agents" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "cluster" && l.GetValue() == cluster {
					return m.GetGauge().GetValue(), true
				}
			}
		}
	}
	return 0, false
}

func TestConnectedAgentsHasASeriesForEveryRegisteredCluster(t *testing.T) {
	s := NewServer(nil, time.Hour)
	if _, ok := connectedSeries(t, "metrics-a"); ok {
		t.Fatalf("a series for a cluster nobody registered")
	}
	s.RegisteredCluster("metrics-a")
	if v, ok := connectedSeries(t, "metrics-a"); !ok || v != 0 {
		t.Errorf("a registered cluster whose agent never came: series %v (present %v), want 0", v, ok)
	}
	s.opened("metrics-a")
	if v, _ := connectedSeries(t, "metrics-a"); v != 1 {
		t.Errorf("with its tunnel open the series is %v, want 1", v)
	}
	// The Cluster goes while its tunnel is open: the series goes with the
	// tunnel, not before.
	s.UnregisteredCluster("metrics-a")
	if v, ok := connectedSeries(t, "metrics-a"); !ok || v != 1 {
		t.Errorf("the series went (or changed to %v) while the tunnel was still open", v)
	}
	s.closed("metrics-a")
	if v, ok := connectedSeries(t, "metrics-a"); ok {
		t.Errorf("the series of an unregistered cluster stayed at %v after its last tunnel closed", v)
	}

	s.RegisteredCluster("metrics-b")
	s.UnregisteredCluster("metrics-b")
	if _, ok := connectedSeries(t, "metrics-b"); ok {
		t.Errorf("the series of a cluster unregistered with no tunnel stayed")
	}
}

func TestCallResultSaysHowTheAgentAnswered(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{&AgentError{StatusCode: 422, Message: "excluded", Refused: true}, "refused"},
		{fmt.Errorf("wrapped: %w", &AgentError{StatusCode: 500, Message: "boom"}), "error"},
		{errors.New("EOF"), "unreachable"},
	} {
		if got := callResult(tc.err); got != tc.want {
			t.Errorf("callResult(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
