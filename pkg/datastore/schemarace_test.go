package datastore

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestReplicasStartingAtOnceOnAFreshDatabaseAllStart starts several kines
// at the same moment on a fresh PostgreSQL database, as the replicas of a
// first install do, a few times over: every one must start, whoever
// creates the schema.
func TestReplicasStartingAtOnceOnAFreshDatabaseAllStart(t *testing.T) {
	const rounds, replicas = 3, 4
	for round := range rounds {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		dsn := freshPostgresDatabase(t, ctx)
		kineCtx, stop := context.WithCancel(context.Background())
		start := make(chan struct{})
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range replicas {
			wg.Go(func() {
				<-start
				cfg := kineConfig{Socket: filepath.Join(t.TempDir(), fmt.Sprintf("kine-%d.sock", i)), Endpoint: dsn, Poll: defaultPgsqlPollInterval}
				_, errs[i] = listenKine(kineCtx, cfg)
			})
		}
		close(start)
		wg.Wait()
		stop()
		cancel()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: replica %d of %d starting at once did not start: %v", round, i, replicas, err)
			}
		}
	}
}
