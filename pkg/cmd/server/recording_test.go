package server

import (
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/infroware/janus/pkg/session"
)

func TestRecordingFlags(t *testing.T) {
	dataDir := t.TempDir()
	cases := []struct {
		name      string
		args      []string
		wantError string
		location  string
		failure   session.RecordingFailure
		input     bool
	}{
		{name: "recorded in the data directory by default", location: filepath.Join(dataDir, "recordings", "x"), failure: session.RecordingFailClose},
		{name: "a directory", args: []string{"--recording-store=" + filepath.Join(dataDir, "elsewhere"), "--record-input", "--recording-failure=continue"}, location: filepath.Join(dataDir, "elsewhere", "x"), failure: session.RecordingFailContinue, input: true},
		{name: "a bucket", args: []string{"--recording-store=s3://audit/janus", "--recording-s3-endpoint=http://127.0.0.1:9000"}, location: "s3://audit/janus/x/", failure: session.RecordingFailClose},
		{name: "an unknown failure mode", args: []string{"--recording-failure=ignore"}, wantError: "--recording-failure must be close or continue"},
		{name: "an S3 endpoint without a bucket", args: []string{"--recording-s3-endpoint=http://minio:9000"}, wantError: "need an s3:// --recording-store"},
		{name: "a malformed bucket", args: []string{"--recording-store=s3://"}, wantError: "--recording-store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("AWS_ACCESS_KEY_ID", "janus")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "janus-secret")
			o := NewRecordingOptions()
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			errs := o.Validate()
			if tc.wantError != "" {
				if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.wantError) {
					t.Fatalf("Validate: %v, want %q", errs, tc.wantError)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("Validate: %v", errs)
			}
			cfg, err := o.Config(dataDir)
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Store.Location("x"); got != tc.location || cfg.Failure != tc.failure || cfg.RecordInput != tc.input {
				t.Errorf("config: store at %s, failure %s, input %v", got, cfg.Failure, cfg.RecordInput)
			}
		})
	}
}
