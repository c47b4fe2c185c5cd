package datastore

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/infroware/janus/internal/testenv"
)

// TestAWriteThroughOneReplicaReachesAnothersWatchesPromptly: replicas on
// one PostgreSQL database each embed a kine, and a write through one
// wakes only its own kine's poll; another replica's watches (its watch
// cache, its informers) learn of it when their kine polls next. So an
// approval stored through one replica reaches the leader's controller,
// and the Active status the leader writes reaches a watch through the
// other replica, each within one poll interval.
func TestAWriteThroughOneReplicaReachesAnothersWatchesPromptly(t *testing.T) {
	// Far above the poll interval, for a loaded machine, and far below
	// kine's default second.
	const promptly = 250 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dsn := freshPostgresDatabase(t, ctx)
	replica := kineConfig{Endpoint: dsn, Poll: defaultPgsqlPollInterval}
	a, b := kineClient(t, ctx, replica), kineClient(t, ctx, replica)

	// Each write follows the event of the one before, which b's poll has
	// just found: it waits nearly the whole interval for the next poll.
	const writes = 10
	watch := b.Watch(ctx, "/registry/replicas/", clientv3.WithPrefix())
	var lags []time.Duration
	for i := range writes {
		written := time.Now()
		if _, err := a.Put(ctx, fmt.Sprintf("/registry/replicas/%d", i), "v"); err != nil {
			t.Fatalf("writing through replica a: %v", err)
		}
		select {
		case resp := <-watch:
			if err := resp.Err(); err != nil || len(resp.Events) != 1 {
				t.Fatalf("replica b's watch answered %d events, error %v; want the one write", len(resp.Events), err)
			}
			lags = append(lags, time.Since(written))
		case <-ctx.Done():
			t.Fatal("replica b's watch never saw the write through replica a")
		}
	}
	slices.Sort(lags)
	t.Logf("write through a → b's watch, %d writes: p50 %s, max %s", writes, lags[writes/2], lags[writes-1])
	if worst := lags[writes-1]; worst > promptly {
		t.Errorf("replica b's watch saw a write through replica a %s after it was written; want within %s", worst, promptly)
	}
}

// freshPostgresDatabase creates a database of its own on the test
// PostgreSQL server (hack/ensure-postgres.sh), dropped when the test ends.
func freshPostgresDatabase(t *testing.T, ctx context.Context) string {
	t.Helper()
	dsn, drop, err := testenv.CreatePostgresDatabase(ctx, testenv.PostgresURL(), "janus_datastore")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return dsn
}

// kineClient starts an embedded kine as cfg says, on a socket of its own
// (cfg.Socket is ignored), as a replica does, and returns an etcd client
// of it. kine stops when the test ends.
func kineClient(t testing.TB, ctx context.Context, cfg kineConfig) *clientv3.Client {
	t.Helper()
	kineCtx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	cfg.Socket = filepath.Join(t.TempDir(), "kine.sock")
	endpoint, err := listenKine(kineCtx, cfg)
	if err != nil {
		t.Fatalf("starting kine: %v", err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 10 * time.Second, Context: ctx})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
