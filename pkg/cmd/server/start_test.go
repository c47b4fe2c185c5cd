package server

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/infroware/janus/pkg/version"
)

func TestVersionFlagPrintsTheBuildAndStartsNothing(t *testing.T) {
	cmd := NewCommandStartJanusServer(context.Background(), NewJanusServerOptions(io.Discard, io.Discard))
	var out bytes.Buffer
	cmd.SetOut(&out)
	// A negative --min-duration fails validation: --version must answer
	// before the flags are validated or a datastore is started.
	cmd.SetArgs([]string{"--min-duration=-1s", "--version"})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("janus-apiserver --version: %v", err)
	}
	if got, want := out.String(), "janus-apiserver "+version.String()+"\n"; got != want {
		t.Errorf("janus-apiserver --version printed %q, want %q", got, want)
	}
}
