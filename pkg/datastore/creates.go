package datastore

import (
	"context"
	"fmt"
	"time"

	"github.com/k3s-io/kine/pkg/server"
	"k8s.io/klog/v2"
)

// createAttempts is how often a create kine reported but did not store is
// tried before the API server is told it failed.
const createAttempts = 3

// createRetryDelay is the pause before another attempt.
const createRetryDelay = 100 * time.Millisecond

// checkedCreates makes sure that a create kine reports as done was
// stored. kine v0.17.5's LogStructured.Create, when appending the row
// fails (a connection refused at the database's connection limit, a
// restarting PostgreSQL) and the key is then read back as absent, returns
// the read's nil error where it meant the append's — so it answers "created
// at the current revision" for a row that was never written, and the
// client gets 201 for an object that does not exist. The soak's create +
// approve on PostgreSQL found it: approvals of requests created a moment
// before came back 404.
//
// After every create kine reports as done, the key is read: a key whose
// create revision is the one reported was created. One that is absent was
// not, and the create is tried again; anything else (another writer got
// there first) or a read that fails is an error, so the API server answers
// with a failure and never with a write it did not make.
type checkedCreates struct {
	server.Backend
}

func (b checkedCreates) Create(ctx context.Context, key string, value []byte, lease int64) (int64, error) {
	for attempt := 1; ; attempt++ {
		rev, err := b.Backend.Create(ctx, key, value, lease)
		if err != nil {
			return rev, err
		}
		_, kv, err := b.Backend.Get(ctx, key, 0, true)
		switch {
		case err != nil:
			return 0, fmt.Errorf("reading back %s after creating it at revision %d: %w", key, rev, err)
		case kv != nil && kv.CreateRevision == rev:
			return rev, nil
		case kv != nil:
			// Created by someone else since: this create did not happen.
			return 0, server.ErrKeyExists
		}
		klog.InfoS("The datastore reported a create it did not store; trying again", "key", key, "revision", rev, "attempt", attempt)
		if attempt == createAttempts {
			return 0, fmt.Errorf("creating %s: the datastore reported it created but did not store it, %d times", key, createAttempts)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("creating %s: %w", key, ctx.Err())
		case <-time.After(createRetryDelay):
		}
	}
}
