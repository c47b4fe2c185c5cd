package datastore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/component-base/metrics/testutil"
)

// sqliteAutoCheckpointBytes is where SQLite's automatic checkpoint would
// start over the WAL: 1000 pages of 4 KiB.
const sqliteAutoCheckpointBytes = 1000 * 4096

// walTestValue is the value the WAL tests write, large enough that a few
// hundred writes fill megabytes of WAL.
var walTestValue = strings.Repeat("w", 16<<10)

// TestKinesConnectionsNeverCheckpointTheWAL: every connection of kine's
// pool, those of its setup included, has SQLite's automatic checkpoint
// off, so no write through kine runs a checkpoint in its commit.
func TestKinesConnectionsNeverCheckpointTheWAL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	endpoint := sqliteScheme + filepath.Join(t.TempDir(), "janus.db") + "?" + sqliteParams
	_, pool, err := newSQLiteBackend(ctx, &drivers.Config{Endpoint: endpoint, ConnectionPoolConfig: generic.ConnectionPoolConfig{MaxIdle: 20}})
	if err != nil {
		t.Fatalf("starting kine's SQLite backend: %v", err)
	}
	// Held at once, they are distinct connections: any left idle from
	// setup and new ones.
	for i := range 5 {
		conn, err := pool.Conn(ctx)
		if err != nil {
			t.Fatalf("taking connection %d of kine's pool: %v", i, err)
		}
		defer conn.Close()
		var pages int
		if err := conn.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
			t.Fatalf("reading wal_autocheckpoint of connection %d: %v", i, err)
		}
		if pages != 0 {
			t.Errorf("connection %d of kine's pool checkpoints the WAL automatically past %d pages; want never (0)", i, pages)
		}
	}
}

// TestWritesLeaveTheWALToTheCheckpointer writes through kine with the
// checkpointer all but idle (its first turn, then one an hour away): the
// WAL grows far past where SQLite's automatic checkpoint would have
// started it over, so no write ran one.
func TestWritesLeaveTheWALToTheCheckpointer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path, client := sqliteKine(t, ctx, walCheckpoints{Every: time.Hour, RestartAbove: 1 << 40, TruncateAbove: 1 << 40})
	const want = 3 * sqliteAutoCheckpointBytes
	for i := 0; walSize(t, path) <= want; i++ {
		if i == 3000 {
			t.Fatalf("after %d writes the WAL is %d bytes; want past %d: is something checkpointing it?", i, walSize(t, path), want)
		}
		put(t, ctx, client, i)
	}
}

// TestTheCheckpointerBoundsTheWAL writes through kine without pause: the
// checkpoints keep the WAL small, a TRUNCATE that a reader holds up gives
// up without stopping writes for good, and once the reader is gone the
// WAL is truncated back under its bound.
func TestTheCheckpointerBoundsTheWAL(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const bound = 1 << 20
	path, client := sqliteKine(t, ctx, walCheckpoints{Every: 20 * time.Millisecond, RestartAbove: 64, TruncateAbove: bound})
	counted := func(mode, result string) float64 {
		n, err := testutil.GetCounterMetricValue(walCheckpointsTotal.WithLabelValues(mode, result))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	passives, locked, truncates := counted("passive", "done"), counted("passive_locked", "done"), counted("truncate", "done")

	// 600 writes put 12 MiB in the WAL; one checkpointer turn lets in
	// a handful. Kept small, the WAL is one or two turns' worth.
	const writes, most = 600, 6 << 20
	var largest int64
	for i := range writes {
		put(t, ctx, client, i)
		largest = max(largest, walSize(t, path))
	}
	t.Logf("%d writes of %d bytes: the WAL was %d bytes at most; checkpoints done: %v PASSIVE, %v holding writes, %v TRUNCATE", writes, len(walTestValue), largest,
		counted("passive", "done")-passives, counted("passive_locked", "done")-locked, counted("truncate", "done")-truncates)
	if largest > most {
		t.Errorf("the WAL reached %d bytes over %d writes; want at most %d", largest, writes, most)
	}
	if got := counted("passive", "done") - passives; got < 1 {
		t.Errorf("%v PASSIVE checkpoints were done during the writes; want some", got)
	}

	// A reader holding a snapshot keeps the WAL from starting over.
	reader, err := sql.Open(checkpointDriver, checkpointDSN(path, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	snapshot, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = snapshot.Rollback() }()
	var rows int
	if err := snapshot.QueryRowContext(ctx, "SELECT COUNT(*) FROM kine").Scan(&rows); err != nil {
		t.Fatalf("reading through the snapshot: %v", err)
	}
	busy := counted("truncate", "busy")
	for i := writes; walSize(t, path) <= bound; i++ {
		put(t, ctx, client, i)
	}
	waitFor(t, ctx, "a TRUNCATE checkpoint to give up on the reader", func() bool { return counted("truncate", "busy") > busy })
	// Writes still get through (they wait behind a TRUNCATE, not for it
	// to succeed).
	put(t, ctx, client, -1)

	truncated := counted("truncate", "done")
	if err := snapshot.Rollback(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "a TRUNCATE checkpoint once the reader is gone", func() bool { return counted("truncate", "done") > truncated })
	if size := walSize(t, path); size > bound {
		t.Errorf("the WAL is %d bytes after a TRUNCATE and no writes; want at most %d", size, bound)
	}
}

// BenchmarkSQLiteWrite times writes of 2 KiB, about an AccessRequest,
// one after another through kine on SQLite checkpointed as janus-apiserver
// does, and reports their p50, p99 and slowest, and the checkpoints that
// ran. A write that paid for a checkpoint would show in p99 and max.
//
//	go test ./pkg/datastore -run '^$' -bench SQLiteWrite -benchtime 5000x
func BenchmarkSQLiteWrite(b *testing.B) {
	ctx := b.Context()
	path, client := sqliteKine(b, ctx, defaultWALCheckpoints)
	value := strings.Repeat("v", 2<<10)
	checkpoints := func() float64 {
		n, err := testutil.GetCounterMetricValue(walCheckpointsTotal.WithLabelValues("passive", "done"))
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	before := checkpoints()
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		if _, err := client.Put(ctx, fmt.Sprintf("/registry/bench/%d", i%500), value); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	at := func(p int) float64 { return float64(took[(len(took)-1)*p/100].Microseconds()) / 1000 }
	b.ReportMetric(at(50), "p50-ms")
	b.ReportMetric(at(99), "p99-ms")
	b.ReportMetric(at(100), "max-ms")
	b.ReportMetric(checkpoints()-before, "checkpoints")
	b.ReportMetric(float64(walSize(b, path))/(1<<20), "wal-MiB")
}

// sqliteKine starts kine on a fresh SQLite database, as Options.Start does
// but checkpointed as when says, and returns the database's path and an
// etcd client of kine. The checkpointer ends with the test.
func sqliteKine(t testing.TB, ctx context.Context, when walCheckpoints) (string, *clientv3.Client) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "janus.db")
	return path, kineClient(t, ctx, kineConfig{
		Endpoint: sqliteScheme + path + "?" + sqliteParams, SerializeWrites: true, Poll: sqlitePollInterval, WALCheckpoints: when,
	})
}

// put writes key i through kine.
func put(t testing.TB, ctx context.Context, c *clientv3.Client, i int) {
	t.Helper()
	if _, err := c.Put(ctx, fmt.Sprintf("/registry/wal/%d", i), walTestValue); err != nil {
		t.Fatalf("writing key %d: %v", i, err)
	}
}

// walSize is the size of the WAL file of the database at path.
func walSize(t testing.TB, path string) int64 {
	t.Helper()
	size, err := fileSize(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// waitFor polls done until it holds or ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, done func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-tick.C:
		}
	}
}
