package server

import (
	"io"
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
		{"self-managed CA instead of a file", PeerOptions{Service: "janus/peers", TokenFile: "t", SelfManagedCA: func() []byte { return nil }}, ""},
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

// TestPeersTrustTheSelfManagedCAWithoutACAFile: with --tls-self-managed-secret
// and no --peer-ca-file, peering verifies with that Secret's CAs, read at
// each dial rather than once; a --peer-ca-file given wins.
func TestPeersTrustTheSelfManagedCAWithoutACAFile(t *testing.T) {
	o := NewJanusServerOptions(io.Discard, io.Discard)
	o.SelfManagedTLS.Secret = "janus/janus-apiserver-selfcert"
	o.Peers.Service = "janus/janus-apiserver-peers"
	o.ReplicaName = "janus-0"
	if err := o.Complete(); err != nil {
		t.Fatal(err)
	}
	if o.Peers.SelfManagedCA == nil {
		t.Fatal("--tls-self-managed-secret does not stand in for --peer-ca-file")
	}
	if got := o.Peers.SelfManagedCA(); got != nil {
		t.Errorf("the self-managed CAs before the Secret's Manager exists: %q", got)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.Peers.TokenFile = token
	if errs := o.Peers.Validate(); len(errs) != 0 {
		t.Fatalf("Validate: %v", errs)
	}
	var extra apiserver.ExtraConfig
	if err := o.Peers.ApplyTo(&extra, o.ReplicaName); err != nil {
		t.Fatal(err)
	}
	if cfg := extra.Peering.Config; cfg.CABundle == nil || cfg.RootCAs != nil || cfg.ServerName != "janus-apiserver-peers.janus.svc" {
		t.Errorf("peer config CABundle set %v, RootCAs %v, server name %q; want the self-managed bundle alone", cfg.CABundle != nil, cfg.RootCAs, cfg.ServerName)
	}

	o.Peers.CAFile = filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(o.Peers.CAFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := o.Peers.ApplyTo(&extra, o.ReplicaName); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("--peer-ca-file beside --tls-self-managed-secret is not read: %v", err)
	}
}
