package datastore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
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
//   - PASSIVE again, holding the etcd API's write lock (limits.go), when
//     the WAL did not start over since the last turn and holds more than
//     walCheckpoints.RestartAbove frames: writes without pause append to
//     the WAL while PASSIVE copies, so it never has everything copied when
//     a write begins. A second PASSIVE without the lock copies what came
//     in during the first; then, holding the lock, one copies what came in
//     during the second, and the write after it starts the WAL over
//     (unless a reader is still in it).
//   - TRUNCATE, when the WAL file is past walCheckpoints.TruncateAbove: a
//     reader holding an old snapshot keeps the WAL from starting over, and
//     only a checkpoint that waits for it bounds the file. It stops
//     writers while it runs, and holds the write lock too. After one that
//     gives up waiting, the next waits truncateBackoff turns.
//
// Writes that wait for a checkpoint holding the write lock wait their turn
// there and start the moment it ends, where in SQLite's busy handler they
// would sleep in steps of up to 100 ms. Writes take that lock before
// SQLite's, and so does the checkpointer, so neither waits for the other
// while holding what the other needs.
//
// kine's connections share SQLite's shared cache, and a checkpoint on one
// of them would hold the cache's mutex, and so every read and write of
// kine, while it ran. The checkpointer's connection has a cache of its
// own.

// walCheckpoints says when the WAL is checkpointed.
type walCheckpoints struct {
	// Every is how often the checkpointer takes a turn.
	Every time.Duration
	// RestartAbove is how many frames (pages) the WAL may hold, copied,
	// before a PASSIVE holding the write lock makes the next write start
	// it over.
	RestartAbove int64
	// TruncateAbove is the WAL file size, in bytes, past which a TRUNCATE
	// checkpoint runs instead.
	TruncateAbove int64
}

// defaultWALCheckpoints checkpoints often, so that each PASSIVE has little
// to copy: a checkpoint's writes to the database file and its fsync share
// the disk, and on ext4 the journal, with the fsync of each commit, and a
// large one slowed the commits beside it. A turn with nothing to copy
// costs a few reads of the WAL index. It keeps the WAL to SQLite's own
// 1000 pages under writes without pause, and its file under 64 MiB unless
// a reader holds one snapshot that long.
var defaultWALCheckpoints = walCheckpoints{Every: 100 * time.Millisecond, RestartAbove: 1000, TruncateAbove: 64 << 20}

// checkpointBusyTimeout is how long a TRUNCATE checkpoint waits for
// readers and for writers outside the write lock (kine's lease expiry,
// its gap fills) before it gives up. Writes through the etcd API wait
// that long at most, behind it.
const checkpointBusyTimeout = time.Second

// truncateBackoff is how many turns after a TRUNCATE that gave up the next
// is tried (10 s by default): a reader that holds an old snapshot for long
// would otherwise have writes wait checkpointBusyTimeout every turn.
const truncateBackoff = 100

var (
	walCheckpointsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "janus",
		Subsystem:      "datastore",
		Name:           "wal_checkpoints_total",
		Help:           "Checkpoints of the SQLite WAL, by mode (passive; passive_locked, which holds writes so that the next starts the WAL over; truncate, which holds writes too) and result: done (the WAL is all in the database file), partial (a reader still needs part of it), busy (a truncate gave up waiting for readers or writers), error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"mode", "result"})
	walCheckpointDuration = metrics.NewHistogramVec(&metrics.HistogramOpts{
		Namespace:      "janus",
		Subsystem:      "datastore",
		Name:           "wal_checkpoint_duration_seconds",
		Help:           "How long checkpoints of the SQLite WAL took, by mode (passive, passive_locked, truncate). Writes wait for passive_locked and truncate only.",
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
	// truncateAfter is when a TRUNCATE may be tried again after one
	// gave up.
	truncateAfter time.Time
}

// newWALCheckpointer opens a connection of its own to the database at
// path. writes is the etcd API's write lock.
func newWALCheckpointer(ctx context.Context, path string, writes *sync.Mutex, when walCheckpoints) (*walCheckpointer, error) {
	if when.Every <= 0 || when.RestartAbove <= 0 || when.TruncateAbove <= 0 {
		return nil, fmt.Errorf("checkpointing the WAL every %s, restarting it above %d frames and truncating it above %d bytes: all must be more than 0", when.Every, when.RestartAbove, when.TruncateAbove)
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

// run takes a turn at once, then every c.when.Every until ctx is done,
// and closes the connection.
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

// checkpoint takes one turn: TRUNCATE if the WAL file is past its bound,
// otherwise PASSIVE, then, if the WAL did not start over since the last
// turn, PASSIVE again and once more holding the write lock.
func (c *walCheckpointer) checkpoint(ctx context.Context) {
	size, err := fileSize(c.wal)
	if err != nil {
		klog.ErrorS(err, "Cannot tell the size of the SQLite WAL; checkpointing it PASSIVE")
	}
	if size > c.when.TruncateAbove && time.Now().After(c.truncateAfter) {
		if c.run1(ctx, truncate, size).busy {
			c.truncateAfter = time.Now().Add(truncateBackoff * c.when.Every)
		}
		return
	}
	p := c.run1(ctx, passive, size)
	if p.err != nil || p.copied < p.frames || p.frames <= c.when.RestartAbove {
		return
	}
	// The WAL did not start over: writes came in while PASSIVE copied.
	// Another copies those, which takes less time, so that the one
	// holding the writes has little left.
	if p := c.run1(ctx, passive, size); p.err == nil && p.copied == p.frames {
		c.run1(ctx, passiveLocked, size)
	}
}

// checkpointKind is one of the checkpoints the checkpointer runs.
type checkpointKind struct {
	// label is the checkpoint's mode in the metrics.
	label string
	// pragma is PRAGMA wal_checkpoint's mode.
	pragma string
	// locked holds the etcd API's write lock while it runs.
	locked bool
}

var (
	passive       = checkpointKind{label: "passive", pragma: "PASSIVE"}
	passiveLocked = checkpointKind{label: "passive_locked", pragma: "PASSIVE", locked: true}
	truncate      = checkpointKind{label: "truncate", pragma: "TRUNCATE", locked: true}
)

// checkpointed is what a checkpoint did: busy is a TRUNCATE that gave up
// waiting; frames is how many the WAL held and copied how many of them
// are in the database file.
type checkpointed struct {
	busy           bool
	frames, copied int64
	err            error
}

// run1 runs one checkpoint and reports it. size is the WAL file's
// before the turn.
func (c *walCheckpointer) run1(ctx context.Context, kind checkpointKind, size int64) checkpointed {
	start := time.Now()
	var r checkpointed
	func() {
		if kind.locked {
			c.writes.Lock()
			defer c.writes.Unlock()
		}
		var blocked int
		if err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+kind.pragma+")").Scan(&blocked, &r.frames, &r.copied); err != nil {
			r.err = fmt.Errorf("running PRAGMA wal_checkpoint(%s): %w", kind.pragma, err)
		}
		r.busy = blocked != 0
	}()
	took := time.Since(start)
	if ctx.Err() != nil {
		return r
	}
	result := "done"
	switch {
	case r.err != nil:
		result = "error"
	case r.busy:
		result = "busy"
	case r.copied < r.frames:
		result = "partial"
	}
	walCheckpointsTotal.WithLabelValues(kind.label, result).Inc()
	walCheckpointDuration.WithLabelValues(kind.label).Observe(took.Seconds())
	after, err := fileSize(c.wal)
	if err == nil {
		walBytes.Set(float64(after))
	}
	switch {
	case r.err != nil:
		klog.ErrorS(r.err, "Checkpointing the SQLite WAL failed", "mode", kind.label, "walBytes", size)
	case kind == truncate:
		klog.InfoS("Truncated the SQLite WAL", "result", result, "walBytesBefore", size, "walBytesAfter", after, "took", took)
	default:
		klog.V(5).InfoS("Checkpointed the SQLite WAL", "mode", kind.label, "result", result, "frames", r.frames, "copied", r.copied, "took", took)
	}
	return r
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
