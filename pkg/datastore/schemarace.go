package datastore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/server"
	"k8s.io/klog/v2"
)

// schemaAttempts is how often kine is set up on a database whose schema
// another replica is creating at the same moment.
const schemaAttempts = 5

// schemaRetryDelay is the pause between those attempts.
const schemaRetryDelay = time.Second

// newKineBackend is kine's drivers.New, tried again when its schema setup
// lost a race. kine creates its table and indexes with CREATE ... IF NOT
// EXISTS, which in PostgreSQL is not safe against itself: two replicas
// starting on a fresh database at once (the first install of a Deployment
// with two replicas) can have one fail with a duplicate key in the
// catalog (unique_violation) or a duplicate table, and crash. The second
// attempt finds the schema made.
func newKineBackend(ctx context.Context, cfg *drivers.Config) (server.Backend, error) {
	for attempt := 1; ; attempt++ {
		_, backend, err := drivers.New(ctx, &sync.WaitGroup{}, cfg)
		if err == nil || attempt == schemaAttempts || !lostSchemaRace(err) {
			return backend, err
		}
		klog.InfoS("Another replica is creating the datastore's schema; trying again", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("setting up the datastore's schema: %w", ctx.Err())
		case <-time.After(schemaRetryDelay):
		}
	}
}

// startKineBackend starts backend, again when it lost the race to create
// kine's compaction bookmark: kine's Start creates the row
// compact_rev_key when there is none, and two replicas starting on a
// fresh database at once can both find none; the loser's create fails
// with ErrKeyExists, and its second Start finds the row.
func startKineBackend(ctx context.Context, backend server.Backend) error {
	for attempt := 1; ; attempt++ {
		err := backend.Start(ctx)
		if err == nil || attempt == schemaAttempts || !errors.Is(err, server.ErrKeyExists) {
			return err
		}
		klog.InfoS("Another replica is setting up the datastore; starting again", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("starting the datastore: %w", ctx.Err())
		case <-time.After(startRetryDelay):
		}
	}
}

// startRetryDelay is the pause before Start is tried again.
const startRetryDelay = 100 * time.Millisecond

// lostSchemaRace tells PostgreSQL's errors for two concurrent CREATE ... IF
// NOT EXISTS of the same object.
func lostSchemaRace(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "23505", // unique_violation, in pg_type or pg_class
		"42P07", // duplicate_table (an index or table)
		"42710": // duplicate_object
		return true
	}
	return false
}
