//go:build cgo

package datastore

import (
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/mattn/go-sqlite3"
)

// checkpointDriver is the database/sql driver of the checkpointer's
// connection: the one kine links in this build.
const checkpointDriver = "sqlite3"

// checkpointDSN opens the database at path with a private cache (not
// kine's shared one) and FULL sync, so that a checkpoint syncs the
// database file before the WAL starts over.
func checkpointDSN(path string, busyTimeout time.Duration) string {
	return fmt.Sprintf("%s?_busy_timeout=%d&_synchronous=FULL", path, busyTimeout.Milliseconds())
}

// disableAutoCheckpoint has every connection d opens from now on turn
// SQLite's automatic WAL checkpoint off.
func disableAutoCheckpoint(d driver.Driver) error {
	sd, ok := d.(*sqlite3.SQLiteDriver)
	if !ok {
		return fmt.Errorf("kine's SQLite driver is a %T, not go-sqlite3's", d)
	}
	sd.ConnectHook = func(conn *sqlite3.SQLiteConn) error {
		if _, err := conn.Exec("PRAGMA wal_autocheckpoint = 0", nil); err != nil {
			return fmt.Errorf("running PRAGMA wal_autocheckpoint = 0: %w", err)
		}
		return nil
	}
	return nil
}
