package version

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestStringNamesTheUnstampedBuild(t *testing.T) {
	got := String()
	for _, want := range []string{"v0.0.0-dev", "commit unknown", "built unknown", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(got, want) {
			t.Errorf("String() = %q, want it to contain %q", got, want)
		}
	}
}

func TestVersionFlagPrintsBeforeRunning(t *testing.T) {
	ran := false
	cmd := &cobra.Command{
		Use:  "janus-console",
		RunE: func(*cobra.Command, []string) error { ran = true; return errors.New("must not run") },
	}
	cmd.Flags().String("listen", "", "")
	AddFlag(cmd)
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--listen=:1", "--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("--version: %v", err)
	}
	if ran {
		t.Error("--version ran the command")
	}
	if got, want := out.String(), "janus-console "+String()+"\n"; got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
	if f := cmd.Flags().Lookup("version"); f == nil || !strings.Contains(f.Usage, "version") {
		t.Errorf("--help does not describe --version: %+v", f)
	}
}
