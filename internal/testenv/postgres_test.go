package testenv

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresServerKeepsCommittedRowsOverARestartAndACrash: a row
// committed before Restart is read after it, a connection open across
// the restart is ended by it, rows committed before Crash are there after
// crash recovery, and Stop leaves nothing running.
func TestPostgresServerKeepsCommittedRowsOverARestartAndACrash(t *testing.T) {
	if _, err := postgresBinDir(); err != nil {
		t.Skip(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := StartPostgres(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })

	conn, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE acknowledged (id int primary key)"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO acknowledged VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatalf("restarting: %v", err)
	}
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection opened before the restart still answers; a fast shutdown ends it")
	}

	again, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("connecting after the restart: %v", err)
	}
	defer again.Close(context.Background())
	var n int
	if err := again.QueryRow(ctx, "SELECT count(*) FROM acknowledged WHERE id = 1").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the committed row after the restart: count %d, %v; want 1", n, err)
	}

	if _, err := again.Exec(ctx, "INSERT INTO acknowledged VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if err := s.Crash(ctx); err != nil {
		t.Fatalf("crashing and starting again: %v", err)
	}
	recovered, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		t.Fatalf("connecting after the crash: %v", err)
	}
	defer recovered.Close(context.Background())
	if err := recovered.QueryRow(ctx, "SELECT count(*) FROM acknowledged").Scan(&n); err != nil || n != 2 {
		t.Fatalf("committed rows after the crash: %d, %v; want 2", n, err)
	}
	if log := TailFile(s.proc.LogFile, 200); !strings.Contains(log, "automatic recovery in progress") {
		t.Errorf("the server's log after Crash does not tell of crash recovery:\n%s", lastLines(log, 20))
	}

	if err := s.Stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if exited, _ := s.proc.Exited(); !exited {
		t.Errorf("postgres (pid %d) runs after Stop", s.proc.PID)
	}
	if _, err := pgx.Connect(ctx, s.URL()); err == nil {
		t.Error("the server still takes connections after Stop")
	}
}
