package agent

import (
	"bytes"
	"context"
	"testing"

	"github.com/infroware/janus/pkg/version"
)

func TestVersionFlagPrintsTheBuildAndStartsNothing(t *testing.T) {
	cmd := NewCommandStartAgent(context.Background(), NewAgentOptions())
	var out bytes.Buffer
	cmd.SetOut(&out)
	// Without --janus-url, --cluster and --token-file the agent would not
	// validate: --version must answer before.
	cmd.SetArgs([]string{"--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("janus-agent --version: %v", err)
	}
	if got, want := out.String(), "janus-agent "+version.String()+"\n"; got != want {
		t.Errorf("janus-agent --version printed %q, want %q", got, want)
	}
}
