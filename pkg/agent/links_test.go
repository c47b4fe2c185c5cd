package agent

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestAgentLinksNoServerSide: janus-agent speaks pkg/tunnel's wire types
// only; janus-apiserver's end of the tunnel (go-oidc, the API types it
// verifies agents against) must not end up in the agent's binary.
func TestAgentLinksNoServerSide(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go tool to list the agent's dependencies: %v", err)
	}
	out, err := exec.Command(goTool, "list", "-deps", "github.com/infroware/janus/cmd/janus-agent").Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/janus-agent: %v", err)
	}
	deps := strings.Fields(string(out))
	if !slices.Contains(deps, "github.com/infroware/janus/pkg/agent/connector") {
		t.Fatalf("the dependency list does not hold the agent's own connector; the listing is wrong:\n%s", out)
	}
	forbidden := []string{
		"github.com/coreos/go-oidc",
		"github.com/infroware/janus/pkg/apis/janus",
		"github.com/infroware/janus/pkg/tunnelserver",
	}
	for _, dep := range deps {
		for _, f := range forbidden {
			if dep == f || strings.HasPrefix(dep, f+"/") {
				t.Errorf("janus-agent links %s", dep)
			}
		}
	}
}
