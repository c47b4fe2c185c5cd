package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

// SQLite, left to itself, checkpoints its WAL back into the database file
// inside the commit of whichever write takes the WAL past 1000 pages: on
// the testbed that write took 52–130 ms instead of a few, once every few
// hundred writes, which was the tail of approve → Active. Janus turns that
// automatic checkpoint off on every connection kine writes through
// (sqlite.go) and checkpoints from one goroutine of its own instead, on a
// connection of its own:
//
//   - PASSIVE, every walCheckpoints.Every. It copies what no reader still
//     needs and never stops a writer or a reader, so writes go on while it
//     runs; once it has copied everything, the next write starts the WAL
//     over from its beginning and the file stops growing.
//   - TRUNCATE, when the WAL file is past walCheckpoints.TruncateAbove.
//     Writes back to back leave no moment with everything copied, and a
//     reader holding an old snapshot keeps the WAL from starting over;
//     only a checkpoint that waits for them bounds it. TRUNCATE stops
//     writers while it runs, so it holds the etcd API's write lock
//     (limits.go): writes wait their turn there and start the moment it
//     ends, where in SQLite's busy handler they would sleep in steps of up
//     to 100 ms. Writes take that lock before SQLite's, and so does the
//     checkpointer, so neither waits for the other while holding what the
//     other needs. One that gives up waiting for a reader is not tried
//     again for truncateBackoff turns.
//
// kine's connections share SQLite's shared cache, and a checkpoint on one
// of them would hold the cache's mutex, and so every read and write of
// kine, while it ran. The checkpointer's connection has a cache of its
// own.

// walCheckpoints says when the WAL is checkpointed.
type walCheckpoints struct {
	// Every is how often a PASSIVE checkpoint runs.
	Every time.Duration
	// TruncateAbove is the WAL file size, in bytes, past which a TRUNCATE
	// checkpoint runs instead.
	TruncateAbove int64
}

// defaultWALCheckpoints keeps the WAL to about a second of writes, and its
// file under 64 MiB unless a reader holds one snapshot that long.
var defaultWALCheckpoints = walCheckpoints{Every: time.Second, TruncateAbove: 64 << 20}

// checkpointBusyTimeout is how long a TRUNCATE checkpoint waits for
// readers and for writers outside the write lock (kine's lease expiry,
// its gap fills) before it gives up. Writes through the etcd API wait
// that long at most, behind it.
const checkpointBusyTimeout = time.Second

// truncateBackoff is how many turns pass, PASSIVE, after a TRUNCATE gave
// up before the next is tried: a reader that holds an old snapshot for
// long would otherwise have writes wait checkpointBusyTimeout every turn.
const truncateBackoff = 10

// The checkpoint modes the checkpointer runs (PRAGMA wal_checkpoint).
const (
	checkpointPassive  = "PASSIVE"
	checkpointTruncate = "TRUNCATE"
)

var (
	walCheckpointsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "datastore",
		Name:           "wal_checkpoints_total",
		Help:           "Checkpoints of the SQLite WAL, by mode (passive, truncate) and result: done (the WAL is all in the database file), partial (a reader still needs part of it), busy (a truncate gave up waiting for readers or writers), error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"mode", "result"})
	walCheckpointDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "janus",
		Subsystem:      "datastore",
		Name:           "wal_checkpoint_duration_seconds",
		Help:           "How long checkpoints of the SQLite WAL took, by mode (passive, truncate). Writes wait for a truncate only.",
		Buckets:        metrics.ExponentialBuckets(0.001, 2, 14),
		StabilityLevel: metrics.ALPHA,
	}, []string{"mode"})
	walBytes = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "janus",
		Subsystem:      "datastore",
		Name:           "wal_bytes",
		Help:           "Size of the SQLite WAL file after the last checkpoint.",
		StabilityLevel: metrics.ALPHA,
	})
)

func init() {
	legacyregistry.MustRegister(walCheckpointsTotal, walCheckpointDuration, walBytes)
}

// walCheckpointer checkpoints the WAL of one SQLite database.
type walCheckpointer struct {
	db     *sql.DB
	wal    string
	writes *sync.Mutex
	when   walCheckpoints
	// backoff is how many more turns run PASSIVE after a TRUNCATE that
	// gave up.
	backoff int
}

// newWALCheckpointer opens a connection of its own to the database at
// path. writes is the etcd API's write lock.
func newWALCheckpointer(ctx context.Context, path string, writes *sync.Mutex, when walCheckpoints) (*walCheckpointer, error) {
	if when.Every <= 0 || when.TruncateAbove <= 0 {
		return nil, fmt.Errorf("checkpointing the WAL every %s and truncating it above %d bytes: both must be more than 0", when.Every, when.TruncateAbove)
	}
	db, err := sql.Open(checkpointDriver, checkpointDSN(path, checkpointBusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("opening %s for WAL checkpoints: %w", path, err)
	}
	// One connection, kept: the checkpoints run one at a time.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening %s for WAL checkpoints: %w", path, err)
	}
	return &walCheckpointer{db: db, wal: path + "-wal", writes: writes, when: when}, nil
}

// run checkpoints at once, then every c.when.Every until ctx is done, and
// closes the connection.
func (c *walCheckpointer) run(ctx context.Context) {
	defer c.db.Close()
	tick := time.NewTicker(c.when.Every)
	defer tick.Stop()
	for {
		c.checkpoint(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// checkpoint runs one checkpoint, TRUNCATE if the WAL is past its bound
// and PASSIVE otherwise, and reports it.
func (c *walCheckpointer) checkpoint(ctx context.Context) {
	size, err := fileSize(c.wal)
	if err != nil {
		klog.ErrorS(err, "Cannot tell the size of the SQLite WAL; checkpointing it PASSIVE")
	}
	mode := checkpointPassive
	if size > c.when.TruncateAbove {
		if c.backoff == 0 {
			mode = checkpointTruncate
		} else {
			c.backoff--
		}
	}
	start := time.Now()
	busy, frames, copied, err := c.runCheckpoint(ctx, mode)
	took := time.Since(start)
	if ctx.Err() != nil {
		return
	}
	result := "done"
	switch {
	case err != nil:
		result = "error"
	case busy:
		result = "busy"
		if mode == checkpointTruncate {
			c.backoff = truncateBackoff
		}
	case copied < frames:
		result = "partial"
	}
	walCheckpointsTotal.WithLabelValues(strings.ToLower(mode), result).Inc()
	walCheckpointDuration.WithLabelValues(strings.ToLower(mode)).Observe(took.Seconds())
	after, serr := fileSize(c.wal)
	if serr == nil {
		walBytes.Set(float64(after))
	}
	switch {
	case err != nil:
		klog.ErrorS(err, "Checkpointing the SQLite WAL failed", "mode", mode, "walBytes", size)
	case mode == checkpointTruncate:
		klog.InfoS("Truncated the SQLite WAL", "result", result, "walBytesBefore", size, "walBytesAfter", after, "frames", frames, "took", took)
	default:
		klog.V(5).InfoS("Checkpointed the SQLite WAL", "mode", mode, "result", result, "frames", frames, "copied", copied, "took", took)
	}
}

// runCheckpoint runs PRAGMA wal_checkpoint(mode). busy is a TRUNCATE that
// gave up waiting; frames is how many the WAL holds and copied how many of
// them are in the database file.
func (c *walCheckpointer) runCheckpoint(ctx context.Context, mode string) (busy bool, frames, copied int64, err error) {
	if mode == checkpointTruncate {
		c.writes.Lock()
		defer c.writes.Unlock()
	}
	var blocked int
	if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&blocked, &frames, &copied); err != nil {
		return false, 0, 0, fmt.Errorf("running PRAGMA wal_checkpoint(%s): %w", mode, err)
	}
	return blocked != 0, frames, copied, nil
}

// fileSize is the size of the file at path; 0 if there is none.
func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
