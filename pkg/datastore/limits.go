package datastore

import (
	"context"
	"sync"

	"google.golang.org/grpc"
)

// writeMethods are the etcd KV calls that may write: the API server
// creates, updates and deletes through Txn, and compacts through Compact.
var writeMethods = map[string]bool{
	"/etcdserverpb.KV/Txn":         true,
	"/etcdserverpb.KV/Put":         true,
	"/etcdserverpb.KV/DeleteRange": true,
	"/etcdserverpb.KV/Compact":     true,
}

// serializeWrites lets one write at a time into kine, in the order they
// arrive; reads (Range, and watches, which are streams) pass untouched.
//
// SQLite takes one writer at a time. kine's SQLite backend writes each
// revision in a transaction begun IMMEDIATE on a connection of its pool,
// so concurrent writers each take a connection and wait for the lock in
// SQLite's busy handler, which sleeps in growing steps of up to 100 ms
// and wakes them in no particular order: with 32 clients creating and
// approving, writes queued for seconds at the tail (p99 4–9 s) while the
// database sat idle between the sleeps. Waiting here instead, each write
// starts the moment the one before it commits.
//
// mu is the lock writes take; the WAL checkpointer takes it too for the
// checkpoints that stop writers (checkpoint.go), so that writes wait for
// those here as well and not in the busy handler.
func serializeWrites(mu *sync.Mutex) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !writeMethods[info.FullMethod] {
			return handler(ctx, req)
		}
		mu.Lock()
		defer mu.Unlock()
		return handler(ctx, req)
	}
}

// limitCalls lets at most n unary calls into kine at once; the rest wait
// for a turn, or for their caller to give up. kine's PostgreSQL backend
// opens a connection for each query it runs at once — two for a write,
// whose insert runs beside the transaction it began — and past the
// server's max_connections every new one fails: 32 clients creating and
// approving ran one replica into "remaining connection slots are
// reserved". A cap on kine's connection pool instead would deadlock,
// since a write holding one connection waits for its second.
func limitCalls(n int) grpc.UnaryServerInterceptor {
	turns := make(chan struct{}, n)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		select {
		case turns <- struct{}{}:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		defer func() { <-turns }()
		return handler(ctx, req)
	}
}
