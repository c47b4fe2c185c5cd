package datastore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// Kind names a storage backend.
type Kind string

const (
	SQLite   Kind = "sqlite"
	Postgres Kind = "postgres"
	Etcd     Kind = "etcd"
)

// Options selects the storage backend.
type Options struct {
	// Endpoint is empty (embedded SQLite), postgres://... or etcd://host:port,...
	Endpoint string
	// DataDir holds the SQLite database.
	DataDir string
}

// NewOptions returns the defaults: embedded SQLite under ./janus-data.
func NewOptions() *Options {
	return &Options{DataDir: "janus-data"}
}

// AddFlags registers the datastore flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Endpoint, "datastore-endpoint", o.Endpoint,
		"Where Janus stores its objects: empty for embedded SQLite in --data-dir, postgres://user:pass@host:5432/db for PostgreSQL (through embedded kine), or etcd://host:2379[,host:2379] for an external etcd. --etcd-servers may be used instead of etcd://.")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory of the embedded SQLite database.")
}

// Kind reports the backend the endpoint selects.
func (o *Options) Kind() Kind {
	switch {
	case o.Endpoint == "":
		return SQLite
	case strings.HasPrefix(o.Endpoint, "postgres://"), strings.HasPrefix(o.Endpoint, "postgresql://"):
		return Postgres
	case strings.HasPrefix(o.Endpoint, "etcd://"):
		return Etcd
	}
	return ""
}

// Validate checks the endpoint without echoing it: it may hold a password.
func (o *Options) Validate() []error {
	var errs []error
	switch o.Kind() {
	case SQLite:
		if o.DataDir == "" {
			errs = append(errs, errors.New("--data-dir is required for the embedded SQLite datastore"))
		}
	case Postgres:
		if u, err := url.Parse(o.Endpoint); err != nil || u.Host == "" {
			errs = append(errs, errors.New("--datastore-endpoint is not a valid postgres:// URL (percent-encode special characters in the password)"))
		}
	case Etcd:
		for _, hp := range strings.Split(strings.TrimPrefix(o.Endpoint, "etcd://"), ",") {
			if !strings.Contains(hp, ":") {
				errs = append(errs, fmt.Errorf("--datastore-endpoint: etcd member %q needs host:port", hp))
			}
		}
	default:
		errs = append(errs, fmt.Errorf("--datastore-endpoint: unsupported scheme in %q; use postgres:// or etcd://, or leave it empty for SQLite", Redact(o.Endpoint)))
	}
	return errs
}

// Redact hides the password of an endpoint for logs and errors.
func Redact(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		if i := strings.Index(endpoint, "://"); i >= 0 {
			return endpoint[:i] + "://<redacted>"
		}
		return "<redacted>"
	}
	return u.Redacted()
}

// Start brings up the backend and returns the etcd server list to store
// through. For kine backends the embedded kine runs until ctx is done.
func (o *Options) Start(ctx context.Context) ([]string, error) {
	kind := o.Kind()
	if kind == Etcd {
		var servers []string
		for _, hp := range strings.Split(strings.TrimPrefix(o.Endpoint, "etcd://"), ",") {
			servers = append(servers, "http://"+hp)
		}
		klog.InfoS("Using external etcd", "members", len(servers))
		return servers, nil
	}

	dsn := o.Endpoint
	if kind == SQLite {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory %s: %w", o.DataDir, err)
		}
		path, err := filepath.Abs(filepath.Join(o.DataDir, "janus.db"))
		if err != nil {
			return nil, fmt.Errorf("resolving data directory %s: %w", o.DataDir, err)
		}
		dsn = "sqlite://" + path + "?_journal_mode=WAL&_busy_timeout=30000&_synchronous=FULL&_txlock=immediate&cache=shared"
	}
	// A unix socket keeps the etcd API off the network.
	socket := filepath.Join(os.TempDir(), fmt.Sprintf("janus-kine-%d-%d.sock", os.Getpid(), time.Now().UnixNano()))
	// kine waits, for minutes, for a database that does not answer yet, and
	// that wait does not watch ctx: give up on it when ctx ends.
	type listened struct {
		endpoint string
		err      error
	}
	done := make(chan listened, 1)
	go func() {
		e, err := listenKine(ctx, kineConfig{Socket: socket, Endpoint: dsn})
		done <- listened{e, err}
	}()
	var endpoint string
	select {
	case l := <-done:
		if l.err != nil {
			return nil, fmt.Errorf("starting embedded kine on %s (%s): %w", kind, Redact(o.Endpoint), redactErr(l.err, o.Endpoint))
		}
		endpoint = l.endpoint
	case <-ctx.Done():
		return nil, fmt.Errorf("starting embedded kine on %s (%s): %w", kind, Redact(o.Endpoint), ctx.Err())
	}
	klog.InfoS("Started embedded kine", "backend", kind)
	return []string{endpoint}, nil
}

// redactErr keeps a driver error from carrying the raw endpoint.
func redactErr(err error, endpoint string) error {
	if endpoint == "" || !strings.Contains(err.Error(), endpoint) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), endpoint, Redact(endpoint)))
}
