package server

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/infroware/janus/pkg/datastore"
)

func TestValidateDatastoreAndEtcdServers(t *testing.T) {
	cases := []struct {
		name      string
		endpoint  string
		servers   []string
		wantError string
	}{
		{name: "embedded SQLite by default"},
		{name: "postgres through kine", endpoint: "postgres://janus:secret@db:5432/janus"},
		{name: "external etcd by flag", servers: []string{"https://etcd-0:2379"}},
		{name: "both", endpoint: "postgres://db/janus", servers: []string{"https://etcd-0:2379"}, wantError: "mutually exclusive"},
		{name: "unsupported scheme", endpoint: "mysql://db/janus", wantError: "unsupported scheme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := NewJanusServerOptions(io.Discard, io.Discard)
			o.Datastore.Endpoint = tc.endpoint
			o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = tc.servers
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
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the datastore password: %v", err)
			}
			// Validation checks a copy: the options still say the server
			// list is to come from the datastore.
			if got := o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList; len(got) != len(tc.servers) {
				t.Errorf("etcd servers became %q", got)
			}
		})
	}
}

func TestDatastoreEndpointFileKeepsThePasswordOutOfTheFlags(t *testing.T) {
	const password = "s3cr3t-Passw0rd"
	file := filepath.Join(t.TempDir(), "endpoint")
	if err := os.WriteFile(file, []byte("postgres://janus:"+password+"@db:5432/janus\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := NewJanusServerOptions(io.Discard, io.Discard)
	fs := pflag.NewFlagSet("janus-apiserver", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--datastore-endpoint-file=" + file}); err != nil {
		t.Fatal(err)
	}
	if err := o.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if o.Datastore.Kind() != datastore.Postgres {
		t.Errorf("the endpoint file selected %q, want postgres", o.Datastore.Kind())
	}
	// What a flag dump at start-up (cliflag.PrintFlags) would log.
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.Contains(f.Value.String(), password) {
			t.Errorf("--%s=%s carries the password", f.Name, f.Value)
		}
	})

	// With --etcd-servers too, the error says so without the endpoint.
	o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = []string{"https://etcd-0:2379"}
	if err := o.Validate(); err == nil || !strings.Contains(err.Error(), "mutually exclusive") || strings.Contains(err.Error(), password) {
		t.Errorf("Validate with --etcd-servers: %v", err)
	}
}
