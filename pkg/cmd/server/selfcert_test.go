package server

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestValidateSelfManagedTLSFlags(t *testing.T) {
	cases := []struct {
		name      string
		args      []string
		wantError string
	}{
		{name: "off by default"},
		{name: "secret and names", args: []string{"--tls-self-managed-secret=janus/janus-apiserver-selfcert", "--alternate-dns=janus-apiserver.janus.svc"}},
		{name: "no namespace", args: []string{"--tls-self-managed-secret=janus-apiserver-selfcert", "--alternate-dns=janus-apiserver.janus.svc"}, wantError: "namespace/name"},
		{name: "no names", args: []string{"--tls-self-managed-secret=janus/janus-apiserver-selfcert"}, wantError: "needs --alternate-dns"},
		{name: "with a certificate file", args: []string{"--tls-self-managed-secret=janus/x", "--alternate-dns=a.janus.svc", "--tls-cert-file=/tls.crt", "--tls-private-key-file=/tls.key"}, wantError: "mutually exclusive"},
		{name: "no APIService", args: []string{"--tls-self-managed-secret=janus/x", "--alternate-dns=a.janus.svc", "--apiservice-name="}, wantError: "--apiservice-name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewJanusServerOptions(io.Discard, io.Discard)
			fs := pflag.NewFlagSet("janus-apiserver", pflag.ContinueOnError)
			o.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if err := o.Complete(); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			err := o.Validate()
			switch {
			case tc.wantError == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.wantError != "" && (err == nil || !strings.Contains(err.Error(), tc.wantError)):
				t.Fatalf("Validate: %v, want an error saying %q", err, tc.wantError)
			}
		})
	}
}
