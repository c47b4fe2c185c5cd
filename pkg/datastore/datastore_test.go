package datastore

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestKind(t *testing.T) {
	cases := map[string]Kind{
		"":                                    SQLite,
		"postgres://u:p@127.0.0.1:5432/janus": Postgres,
		"postgresql://127.0.0.1/janus":        Postgres,
		"etcd://127.0.0.1:2379,10.0.0.2:2379": Etcd,
		"mysql://root@tcp(127.0.0.1)/janus":   "",
	}
	for endpoint, want := range cases {
		if got := (&Options{Endpoint: endpoint}).Kind(); got != want {
			t.Errorf("Kind(%q) = %q, want %q", endpoint, got, want)
		}
	}
}

func TestErrorsNeverCarryThePassword(t *testing.T) {
	const password = "s3cr3t-Passw0rd"
	endpoints := []string{
		"postgres://janus:" + password + "@db.example.com:5432/janus",
		"postgres://janus:" + password + "@%zz/janus", // unparseable
		"mysql://janus:" + password + "@tcp(db)/janus",
	}
	for _, endpoint := range endpoints {
		o := &Options{Endpoint: endpoint, DataDir: "x"}
		for _, err := range o.Validate() {
			if strings.Contains(err.Error(), password) {
				t.Errorf("validation error leaks the password: %v", err)
			}
		}
		if r := Redact(endpoint); strings.Contains(r, password) {
			t.Errorf("Redact(%q) = %q still holds the password", endpoint, r)
		}
		if err := redactErr(fmt.Errorf("dialing %s: refused", endpoint), endpoint); strings.Contains(err.Error(), password) {
			t.Errorf("redactErr leaks the password: %v", err)
		}
	}
}

func TestValidateRejectsBadEndpoints(t *testing.T) {
	for _, endpoint := range []string{"mysql://root@tcp(127.0.0.1)/janus", "etcd://127.0.0.1", "postgres://"} {
		if errs := (&Options{Endpoint: endpoint}).Validate(); len(errs) == 0 {
			t.Errorf("Validate(%q) accepted it", Redact(endpoint))
		}
	}
	if errs := (&Options{Endpoint: "", DataDir: ""}).Validate(); len(errs) == 0 {
		t.Errorf("SQLite without a data directory was accepted")
	}
	for _, interval := range []time.Duration{0, -time.Second} {
		o := NewOptions()
		o.Endpoint, o.PollInterval = "postgres://janus@db.example.com:5432/janus", interval
		if errs := o.Validate(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "--datastore-poll-interval") {
			t.Errorf("Validate of PostgreSQL polled every %s: %v, want one error about --datastore-poll-interval", interval, errs)
		}
	}
}
