//go:build !cgo

package datastore

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	sqlite3 "modernc.org/sqlite"
)

// checkpointDriver is the database/sql driver of the checkpointer's
// connection: the one kine links in this build.
const checkpointDriver = "sqlite"

// checkpointDSN opens the database at path with FULL sync, so that a
// checkpoint syncs the database file before the WAL starts over.
// modernc.org/sqlite has no shared cache: the connection is kine's peer.
func checkpointDSN(path string, busyTimeout time.Duration) string {
	return fmt.Sprintf("file://%s?_pragma=busy_timeout(%d)&_pragma=synchronous(FULL)", path, busyTimeout.Milliseconds())
}

// disableAutoCheckpoint has every connection d opens from now on turn
// SQLite's automatic WAL checkpoint off.
func disableAutoCheckpoint(d driver.Driver) error {
	sd, ok := d.(*sqlite3.Driver)
	if !ok {
		return fmt.Errorf("kine's SQLite driver is a %T, not modernc.org/sqlite's", d)
	}
	sd.RegisterConnectionHook(func(conn sqlite3.ExecQuerierContext, _ string) error {
		if _, err := conn.ExecContext(context.Background(), "PRAGMA wal_autocheckpoint = 0", nil); err != nil {
			return fmt.Errorf("running PRAGMA wal_autocheckpoint = 0: %w", err)
		}
		return nil
	})
	return nil
}
