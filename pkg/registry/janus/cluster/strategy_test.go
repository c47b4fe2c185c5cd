package cluster

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/infroware/janus/pkg/apis/janus"
)

func storedCluster() *janus.Cluster {
	return &janus.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: "prod-eu", ResourceVersion: "4", Generation: 3, Labels: map[string]string{"tier": "prod"}},
		Spec: janus.ClusterSpec{
			DisplayName: "Production EU",
			Agent:       janus.ClusterAgent{Issuer: "https://prod-eu.example.com", ServiceAccount: "janus/janus-agent"},
			MaxDuration: &metav1.Duration{Duration: 2 * time.Hour},
			Approval:    janus.ApprovalPolicy{Required: 2},
		},
		Status: janus.ClusterStatus{Agent: janus.AgentStatus{Connected: true}},
	}
}

// TestAgentStrategyChangesOnlyAgentTrust: whatever else a body to
// clusters/agent says, only spec.agent is taken from it.
func TestAgentStrategyChangesOnlyAgentTrust(t *testing.T) {
	strategy := clusterAgentStrategy{newStrategy(runtime.NewScheme())}
	old := storedCluster()
	body := old.DeepCopy()
	body.Spec.Agent.Issuer = "https://rotated.example.com"
	body.Spec.DisplayName = "Renamed"
	body.Spec.Approval.Required = 1
	body.Spec.ExcludedNamespaces = []string{"payments"}
	body.Labels = map[string]string{"tier": "dev"}
	body.Status.Agent.Connected = false

	strategy.PrepareForUpdate(context.Background(), body, old)
	want := old.DeepCopy()
	want.Spec.Agent.Issuer = "https://rotated.example.com"
	want.Generation = old.Generation + 1
	if body.Spec.DisplayName != want.Spec.DisplayName || body.Spec.Approval != want.Spec.Approval || len(body.Spec.ExcludedNamespaces) != 0 ||
		body.Labels["tier"] != "prod" || !body.Status.Agent.Connected || body.Spec.Agent != want.Spec.Agent || body.Generation != want.Generation {
		t.Errorf("clusters/agent prepared %+v (labels %v, generation %d), want only spec.agent changed: %+v", body.Spec, body.Labels, body.Generation, want.Spec)
	}
	if errs := strategy.ValidateUpdate(context.Background(), body, old); len(errs) > 0 {
		t.Errorf("a valid agent change refused: %v", errs)
	}

	same := old.DeepCopy()
	strategy.PrepareForUpdate(context.Background(), same, old)
	if same.Generation != old.Generation {
		t.Errorf("generation %d after an agent update that changed nothing, want %d", same.Generation, old.Generation)
	}
}

// TestMainStrategyRefusesAgentTrust: a plain update touching spec.agent is
// refused on spec.agent; one that leaves it alone passes.
func TestMainStrategyRefusesAgentTrust(t *testing.T) {
	strategy := newStrategy(runtime.NewScheme())
	old := storedCluster()

	renamed := old.DeepCopy()
	renamed.Spec.DisplayName = "Renamed"
	strategy.PrepareForUpdate(context.Background(), renamed, old)
	if errs := strategy.ValidateUpdate(context.Background(), renamed, old); len(errs) > 0 {
		t.Errorf("renaming refused: %v", errs)
	}

	takeover := old.DeepCopy()
	takeover.Spec.Agent.JWKS = `{"keys":[]}`
	strategy.PrepareForUpdate(context.Background(), takeover, old)
	errs := strategy.ValidateUpdate(context.Background(), takeover, old)
	if len(errs) != 1 || errs[0].Field != "spec.agent" {
		t.Errorf("changing spec.agent with a plain update: %v, want one error on spec.agent", errs)
	}
}
