package server

import (
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// secretFlag matches the names of flags that would carry a secret.
var secretFlag = regexp.MustCompile(`secret|password|passwd|credential|token|private-key|key-file|-key$`)

// notSecrets are flags whose names match secretFlag but hold no secret.
var notSecrets = map[string]string{
	"agent-token-max-lifetime":               "a duration",
	"authentication-token-webhook-cache-ttl": "a duration",
	"tls-self-managed-secret":                "the name of a Secret, not its content",
	"tls-sni-cert-key":                       "pairs of file paths",
}

// TestEverySecretFlagNamesAFile: no janus-apiserver flag takes a secret as
// its value, so none reaches argv, the pod spec or the flag dump at start.
func TestEverySecretFlagNamesAFile(t *testing.T) {
	fs := pflag.NewFlagSet("janus-apiserver", pflag.ContinueOnError)
	NewJanusServerOptions(io.Discard, io.Discard).AddFlags(fs)
	fs.VisitAll(func(f *pflag.Flag) {
		if !secretFlag.MatchString(f.Name) || notSecrets[f.Name] != "" {
			return
		}
		if !strings.HasSuffix(f.Name, "-file") && !strings.HasSuffix(f.Name, "-dir") {
			t.Errorf("--%s looks like it takes a secret by value; take it from a file", f.Name)
		}
	})
}

func TestRecordingCredentialsFileIsAPathInTheFlags(t *testing.T) {
	o := NewJanusServerOptions(io.Discard, io.Discard)
	fs := pflag.NewFlagSet("janus-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--recording-store=s3://recordings/janus", "--recording-s3-credentials-file=/var/run/janus/s3/credentials"}); err != nil {
		t.Fatal(err)
	}
	if errs := o.Recording.Validate(); len(errs) > 0 {
		t.Fatalf("Validate: %v", errs)
	}
	if got := fs.Lookup("recording-s3-credentials-file").Value.String(); got != "/var/run/janus/s3/credentials" {
		t.Errorf("the flag holds %q, want only the path", got)
	}
}
