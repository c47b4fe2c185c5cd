package datastore

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
)

// TestSerializeWritesLetsOneWriteInAtATime runs writes and reads through
// the interceptor at once: writes never overlap one another, and reads
// are not held behind a write.
func TestSerializeWritesLetsOneWriteInAtATime(t *testing.T) {
	intercept := serializeWrites(&sync.Mutex{})
	var inWrite, most atomic.Int32
	writing := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	write := func(context.Context, any) (any, error) {
		n := inWrite.Add(1)
		defer inWrite.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		once.Do(func() { close(writing); <-release })
		return nil, nil
	}
	var wg sync.WaitGroup
	for _, method := range []string{"/etcdserverpb.KV/Txn", "/etcdserverpb.KV/Put", "/etcdserverpb.KV/DeleteRange", "/etcdserverpb.KV/Compact"} {
		for range 8 {
			wg.Go(func() {
				if _, err := intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: method}, write); err != nil {
					t.Error(err)
				}
			})
		}
	}
	<-writing
	// The first write holds the lock; a read must still get through.
	read := make(chan struct{})
	go func() {
		_, _ = intercept(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.KV/Range"}, func(context.Context, any) (any, error) {
			close(read)
			return nil, nil
		})
	}()
	<-read
	close(release)
	wg.Wait()
	if got := most.Load(); got != 1 {
		t.Fatalf("%d writes ran at once; want 1", got)
	}
}

// TestLimitCallsRunsAtMostN holds calls inside the limiter: never more
// than n run at once, and a caller that gives up while waiting is let go.
func TestLimitCallsRunsAtMostN(t *testing.T) {
	const n = 3
	intercept := limitCalls(n)
	var running, most atomic.Int32
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	call := func(context.Context, any) (any, error) {
		c := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); c > m && !most.CompareAndSwap(m, c); m = most.Load() {
		}
		entered <- struct{}{}
		<-release
		return nil, nil
	}
	info := &grpc.UnaryServerInfo{FullMethod: "/etcdserverpb.KV/Range"}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _, _ = intercept(context.Background(), nil, info, call) })
	}
	for range n {
		<-entered
	}
	// All n turns are taken: a caller that gives up is not run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := intercept(ctx, nil, info, func(context.Context, any) (any, error) {
		t.Error("a call ran past the limit")
		return nil, nil
	}); err == nil {
		t.Error("a cancelled caller waiting for a turn got no error")
	}
	close(release)
	wg.Wait()
	if got := most.Load(); got != n {
		t.Fatalf("%d calls ran at once; want %d", got, n)
	}
}
