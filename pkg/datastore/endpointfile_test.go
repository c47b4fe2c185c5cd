package datastore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompleteReadsTheEndpointFile(t *testing.T) {
	const password = "s3cr3t-Passw0rd"
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	dsn := "postgres://janus:" + password + "@db.example.com:5432/janus"

	o := NewOptions()
	o.EndpointFile, o.DataDir = write("dsn", dsn+"\n"), "x"
	if err := o.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if o.endpoint() != dsn || o.Endpoint != "" || o.Kind() != Postgres {
		t.Errorf("endpoint %q (%s), want the file's line without its newline, and the --datastore-endpoint flag left empty", Redact(o.endpoint()), o.Kind())
	}
	if errs := o.Validate(); len(errs) != 0 {
		t.Errorf("Validate: %v", errs)
	}

	cases := map[string]struct {
		o    Options
		want string
	}{
		"both flags":   {Options{Endpoint: dsn, EndpointFile: write("both", dsn)}, "mutually exclusive"},
		"missing file": {Options{EndpointFile: filepath.Join(dir, "absent")}, "no such file"},
		"empty file":   {Options{EndpointFile: write("empty", " \n")}, "is empty"},
	}
	for name, tc := range cases {
		err := tc.o.Complete()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Complete = %v, want an error saying %q", name, err, tc.want)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}

	// A bad endpoint read from the file is refused without being shown.
	bad := &Options{EndpointFile: write("bad", "mysql://janus:"+password+"@tcp(db)/janus")}
	if err := bad.Complete(); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	errs := bad.Validate()
	if len(errs) == 0 {
		t.Fatal("Validate accepted mysql://")
	}
	for _, err := range errs {
		if strings.Contains(err.Error(), password) {
			t.Errorf("validation error leaks the password: %v", err)
		}
	}
}
