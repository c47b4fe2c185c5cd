package server

import (
	"io"
	"strings"
	"testing"
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
