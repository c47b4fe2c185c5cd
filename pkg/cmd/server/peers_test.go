package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/infroware/janus/pkg/apiserver"
)

func TestPeerFlagsNeedATokenFileAndACA(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts PeerOptions
		want string
	}{
		{"off", PeerOptions{}, ""},
		{"token without service", PeerOptions{TokenFile: "t"}, "need --peer-service"},
		{"service without token", PeerOptions{Service: "janus/peers", CAFile: "ca"}, "--peer-token-file"},
		{"service without CA", PeerOptions{Service: "janus/peers", TokenFile: "t"}, "--peer-ca-file"},
		{"not ns/name", PeerOptions{Service: "peers", TokenFile: "t", CAFile: "ca"}, "is not <namespace>/<service name>"},
		{"complete", PeerOptions{Service: "janus/peers", TokenFile: "t", CAFile: "ca"}, ""},
		{"both lists", PeerOptions{Service: "janus/peers", Static: []string{"a=127.0.0.1:1"}, TokenFile: "t", CAFile: "ca"}, "mutually exclusive"},
		{"static without server name", PeerOptions{Static: []string{"a=127.0.0.1:1"}, TokenFile: "t", CAFile: "ca"}, "--peer-server-name"},
		{"static without port", PeerOptions{Static: []string{"a=127.0.0.1"}, TokenFile: "t", CAFile: "ca", ServerName: "x"}, "missing port"},
		{"static complete", PeerOptions{Static: []string{"a=127.0.0.1:1", "b=127.0.0.2:1"}, TokenFile: "t", CAFile: "ca", ServerName: "x"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var msgs []string
			for _, err := range tc.opts.Validate() {
				msgs = append(msgs, err.Error())
			}
			got := strings.Join(msgs, "; ")
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Validate: %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPeerTokenFileIsReadAndNeverQuoted(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("sekrit-but-short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := PeerOptions{Service: "janus/janus-apiserver-peers", TokenFile: short, CAFile: ca}
	o.Complete()
	err := o.ApplyTo(&apiserver.ExtraConfig{}, "janus-0")
	if err == nil || !strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("a short token: %v, want an error naming the file, not its contents", err)
	}
	long := filepath.Join(dir, "long")
	if err := os.WriteFile(long, []byte("  0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.TokenFile = long
	if err := o.ApplyTo(&apiserver.ExtraConfig{}, "janus-0"); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a CA file without certificates: %v", err)
	}
	if o.ServerName != "janus-apiserver-peers.janus.svc" {
		t.Errorf("default server name %q", o.ServerName)
	}
}
