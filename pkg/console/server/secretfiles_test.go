package server

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
)

// The console takes every secret from a file, never from a flag's value:
// the OIDC and GitHub client secrets (read once, at start) and the cookie
// keys.
func TestClientSecretFilesKeepTheSecretOutOfTheFlags(t *testing.T) {
	const secret = "Cl1ent-s3cret-value"
	for _, tc := range []struct {
		name string
		args []string
		flag string
	}{
		{"OpenID Connect", []string{"--oidc-issuer-url=https://issuer.example", "--oidc-client-id=janus-console"}, "--oidc-client-secret-file"},
		{"GitHub", []string{"--github-client-id=janus-console"}, "--github-client-secret-file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			file := filepath.Join(dir, "secret")
			if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			o := NewOptions()
			fs := pflag.NewFlagSet("janus-console", pflag.ContinueOnError)
			o.AddFlags(fs)
			args := append(tc.args, tc.flag+"="+file, "--cookie-keys-file="+filepath.Join(dir, "keys"), "--public-url=https://console.example", "--http-port=8080")
			if err := fs.Parse(args); err != nil {
				t.Fatal(err)
			}
			if err := o.Complete(); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if err := o.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if o.clientSecret != secret {
				t.Errorf("the client secret is %q, want the file's", o.clientSecret)
			}
			// What a flag dump at start-up would log.
			fs.VisitAll(func(f *pflag.Flag) {
				if strings.Contains(f.Value.String(), secret) {
					t.Errorf("--%s=%s carries the secret", f.Name, f.Value)
				}
			})
		})
	}
}

func TestUnreadableSecretFilesAreNamedNotRead(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name string
		set  func(*Options, string)
		flag string
	}{
		{"OpenID Connect", func(o *Options, f string) { o.ClientSecretFile = f }, "--oidc-client-secret-file"},
		{"GitHub", func(o *Options, f string) { o.GitHubClientID, o.GitHubClientSecretFile = "janus-console", f }, "--github-client-secret-file"},
	} {
		for _, path := range []string{missing, dir} {
			o := NewOptions()
			tc.set(o, path)
			err := o.Complete()
			if err == nil || !strings.Contains(err.Error(), tc.flag) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: Complete with %s unreadable: %v, want an error naming %s and the file", tc.name, path, err, tc.flag)
			}
		}
	}

	// A cookie keys file that cannot be read, or holds something other
	// than keys, is named without its content.
	const notAKey = "this-is-not-a-key-but-might-be-a-secret"
	garbled := filepath.Join(dir, "keys")
	if err := os.WriteFile(garbled, []byte(notAKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{missing, garbled} {
		o := NewOptions()
		o.CookieKeysFile = path
		_, err := o.Config(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"})
		if err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), notAKey) {
			t.Errorf("Config with cookie keys %s: %v, want an error naming the file and not its content", path, err)
		}
	}
}

// TestEverySecretFlagNamesAFile: no janus-console flag takes a secret by
// value.
func TestEverySecretFlagNamesAFile(t *testing.T) {
	secretFlag := regexp.MustCompile(`secret|password|passwd|credential|token|private-key|key-file|keys-file|-key$`)
	fs := pflag.NewFlagSet("janus-console", pflag.ContinueOnError)
	NewOptions().AddFlags(fs)
	matched := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if !secretFlag.MatchString(f.Name) {
			return
		}
		matched++
		if !strings.HasSuffix(f.Name, "-file") {
			t.Errorf("--%s looks like it takes a secret by value; take it from a file", f.Name)
		}
	})
	if matched < 4 {
		t.Errorf("only %d secret flags found; the client secrets, cookie keys and TLS key should all match", matched)
	}
}
