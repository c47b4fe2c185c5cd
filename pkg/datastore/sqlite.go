package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/sqlite"
	"github.com/k3s-io/kine/pkg/server"
	"github.com/k3s-io/kine/pkg/util"
)

// sqliteScheme starts the DSN of an embedded SQLite database.
const sqliteScheme = "sqlite://"

// sqliteParams are the DSN parameters Janus opens its SQLite database
// with. _kine_disable_compact_wal_checkpoint drops kine's own checkpoints
// (a TRUNCATE at start, a FULL after each compaction, which ran inside the
// API server's compaction call and so under the write lock): the
// checkpointer (checkpoint.go) does all of them. _stmt_cache_size keeps
// each connection's prepared statements: kine's queries are long, and
// SQLite preparing one on every call took 8 % of janus-apiserver's CPU
// under create + approve; reads through kine take half the time with it
// (BenchmarkSQLiteGet).
const sqliteParams = "_journal_mode=WAL&_busy_timeout=30000&_synchronous=FULL&_txlock=immediate&cache=shared&_stmt_cache_size=64&_kine_disable_compact_wal_checkpoint"

// sqliteDatabase is the file of an sqlite:// DSN.
func sqliteDatabase(endpoint string) string {
	_, dsn := util.SchemeAndAddress(endpoint)
	path, _, _ := strings.Cut(dsn, "?")
	return path
}

// newSQLiteBackend is kine's SQLite driver, as drivers.New makes it, with
// SQLite's automatic WAL checkpoint off on every connection kine opens;
// it returns kine's connection pool too. kine's own
// _kine_disable_wal_autocheckpoint is not enough: it runs PRAGMA
// wal_autocheckpoint = 0 once, at setup, and that pragma holds for the one
// connection it ran on, while kine writes through any of its pool's.
func newSQLiteBackend(ctx context.Context, cfg *drivers.Config) (server.Backend, *sql.DB, error) {
	cfg.Scheme, cfg.DataSourceName = util.SchemeAndAddress(cfg.Endpoint)
	backend, dialect, err := sqlite.NewVariant(ctx, &sync.WaitGroup{}, "sqlite3", cfg)
	if err != nil {
		return nil, nil, err
	}
	// Nothing uses the pool until the backend starts, so the hook is in
	// place before any connection but setup's is opened.
	if err := disableAutoCheckpoint(dialect.DB.Driver()); err != nil {
		return nil, nil, fmt.Errorf("turning off SQLite's automatic WAL checkpoint: %w", err)
	}
	// Setup's connections predate the hook: close them.
	dialect.DB.SetMaxIdleConns(0)
	dialect.DB.SetMaxIdleConns(cfg.ConnectionPoolConfig.MaxIdle)
	return backend, dialect.DB, nil
}
