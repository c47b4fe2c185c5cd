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
	// EndpointFile holds the endpoint instead, so that a password in it
	// stays out of argv and the pod spec. Complete reads it into
	// fileEndpoint, not Endpoint: what the flags hold stays free of it.
	EndpointFile string
	fileEndpoint string
	// DataDir holds the SQLite database.
	DataDir string
	// EtcdTLS reaches an https:// etcd.
	EtcdTLS EtcdTLS
	// MaxConcurrentCalls caps the calls this replica's embedded kine
	// runs against PostgreSQL at once.
	MaxConcurrentCalls int
	// PollInterval is how often this replica's embedded kine looks for
	// the writes other replicas made on PostgreSQL (kine.go).
	PollInterval time.Duration
}

// defaultMaxConcurrentCalls keeps two replicas, and others, within
// PostgreSQL's default max_connections of 100: kine opens a connection
// for each query it runs at once, two for a write, and past the server's
// limit its writes fail.
const defaultMaxConcurrentCalls = 20

// NewOptions returns the defaults: embedded SQLite under ./janus-data.
func NewOptions() *Options {
	return &Options{DataDir: "janus-data", MaxConcurrentCalls: defaultMaxConcurrentCalls, PollInterval: defaultPgsqlPollInterval}
}

// AddFlags registers the datastore flags.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Endpoint, "datastore-endpoint", o.Endpoint,
		"Where Janus stores its objects: empty for embedded SQLite in --data-dir, postgres://user:pass@host:5432/db for PostgreSQL (through embedded kine), https://host:2379[,host:2379] for an external etcd over TLS (with --datastore-etcd-ca-file, --datastore-etcd-cert-file, --datastore-etcd-key-file), or etcd://host:2379[,host:2379] for one in plaintext (logged as a warning). --etcd-servers may be used instead.")
	fs.StringVar(&o.EndpointFile, "datastore-endpoint-file", o.EndpointFile,
		"File holding the --datastore-endpoint value (surrounding whitespace is ignored), for endpoints with a password: mount it from a Secret rather than putting it in the command line. Read once at start.")
	fs.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory of the embedded SQLite database.")
	fs.IntVar(&o.MaxConcurrentCalls, "datastore-max-concurrent-calls", o.MaxConcurrentCalls,
		"Most storage calls this replica runs against PostgreSQL at once; the rest wait their turn. Each takes up to two connections, so keep replicas × 2 × this (plus a few for watches) below the server's max_connections. 0 is no limit.")
	fs.DurationVar(&o.PollInterval, "datastore-poll-interval", o.PollInterval,
		"How often this replica looks for the writes other replicas made on PostgreSQL: they reach its watches (the controller's, a client's) within about twice this; its own writes at once. Each poll is one query, which finds nothing most of the time (two idle replicas at 20ms: about 4% of a core in PostgreSQL, 1% in each replica). PostgreSQL only.")
	o.EtcdTLS.addFlags(fs)
}

// Complete reads --datastore-endpoint-file. Its errors name the file, never
// what it holds.
func (o *Options) Complete() error {
	if o.EndpointFile == "" {
		return nil
	}
	if o.Endpoint != "" {
		return errors.New("--datastore-endpoint and --datastore-endpoint-file are mutually exclusive")
	}
	data, err := os.ReadFile(o.EndpointFile)
	if err != nil {
		// The *PathError names the file and the cause only.
		return fmt.Errorf("reading --datastore-endpoint-file: %w", err)
	}
	o.fileEndpoint = strings.TrimSpace(string(data))
	if o.fileEndpoint == "" {
		return fmt.Errorf("--datastore-endpoint-file %s is empty; leave the flag out for embedded SQLite", o.EndpointFile)
	}
	return nil
}

// HasEndpoint tells whether --datastore-endpoint or its file names a
// backend other than embedded SQLite.
func (o *Options) HasEndpoint() bool { return o.Endpoint != "" || o.EndpointFile != "" }

// endpoint is the endpoint in force: the file's once Complete has read it.
func (o *Options) endpoint() string {
	if o.fileEndpoint != "" {
		return o.fileEndpoint
	}
	return o.Endpoint
}

// Kind reports the backend the endpoint selects.
func (o *Options) Kind() Kind {
	switch {
	case o.endpoint() == "":
		return SQLite
	case strings.HasPrefix(o.endpoint(), "postgres://"), strings.HasPrefix(o.endpoint(), "postgresql://"):
		return Postgres
	case strings.HasPrefix(o.endpoint(), etcdPlaintextScheme), strings.HasPrefix(o.endpoint(), etcdTLSScheme):
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
		if u, err := url.Parse(o.endpoint()); err != nil || u.Host == "" {
			errs = append(errs, errors.New("--datastore-endpoint is not a valid postgres:// URL (percent-encode special characters in the password)"))
		}
		if o.MaxConcurrentCalls < 0 {
			errs = append(errs, fmt.Errorf("--datastore-max-concurrent-calls is %d; it must be 0 (no limit) or more", o.MaxConcurrentCalls))
		}
		if o.PollInterval <= 0 {
			errs = append(errs, fmt.Errorf("--datastore-poll-interval is %s; it must be more than 0", o.PollInterval))
		}
	case Etcd:
		errs = append(errs, o.validateEtcd()...)
	default:
		errs = append(errs, fmt.Errorf("--datastore-endpoint: unsupported scheme in %q; use postgres://, https:// or etcd://, or leave it empty for SQLite", Redact(o.endpoint())))
	}
	if o.Kind() != Etcd && o.EtcdTLS.isSet() {
		errs = append(errs, errors.New("--datastore-etcd-ca-file, --datastore-etcd-cert-file and --datastore-etcd-key-file need an https:// --datastore-endpoint"))
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
		return o.startEtcd(ctx)
	}

	dsn := o.endpoint()
	if kind == SQLite {
		if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory %s: %w", o.DataDir, err)
		}
		path, err := filepath.Abs(filepath.Join(o.DataDir, "janus.db"))
		if err != nil {
			return nil, fmt.Errorf("resolving data directory %s: %w", o.DataDir, err)
		}
		dsn = sqliteScheme + path + "?" + sqliteParams
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
		cfg := kineConfig{Socket: socket, Endpoint: dsn, SerializeWrites: kind == SQLite, Poll: sqlitePollInterval, WALCheckpoints: defaultWALCheckpoints}
		if kind == Postgres {
			cfg.MaxConcurrentCalls = o.MaxConcurrentCalls
			cfg.Poll = o.PollInterval
		}
		e, err := listenKine(ctx, cfg)
		done <- listened{e, err}
	}()
	var endpoint string
	select {
	case l := <-done:
		if l.err != nil {
			return nil, fmt.Errorf("starting embedded kine on %s (%s): %w", kind, Redact(o.endpoint()), redactErr(l.err, o.endpoint()))
		}
		endpoint = l.endpoint
	case <-ctx.Done():
		return nil, fmt.Errorf("starting embedded kine on %s (%s): %w", kind, Redact(o.endpoint()), ctx.Err())
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
