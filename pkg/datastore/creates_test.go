package datastore

import (
	"context"
	"errors"
	"testing"

	"github.com/k3s-io/kine/pkg/server"
)

// lossyBackend is a backend whose first losses creates report success at
// the current revision without storing the key, as kine v0.17.5's Create
// does when its append fails and the key reads back absent.
type lossyBackend struct {
	server.Backend // nil: only Create and Get are called
	losses         int
	rev            int64
	keys           map[string]int64 // key → create revision
	creates        int
}

func (b *lossyBackend) Create(_ context.Context, key string, _ []byte, _ int64) (int64, error) {
	b.creates++
	if _, ok := b.keys[key]; ok {
		return b.rev, server.ErrKeyExists
	}
	if b.losses > 0 {
		b.losses--
		return b.rev, nil
	}
	b.rev++
	b.keys[key] = b.rev
	return b.rev, nil
}

func (b *lossyBackend) Get(_ context.Context, key string, _ int64, _ bool) (int64, *server.KeyValue, error) {
	rev, ok := b.keys[key]
	if !ok {
		return b.rev, nil, nil
	}
	return b.rev, &server.KeyValue{Key: key, CreateRevision: rev, ModRevision: rev}, nil
}

func TestCheckedCreatesNeverReportAWriteNotStored(t *testing.T) {
	for _, tc := range []struct {
		name        string
		losses      int
		wantErr     bool
		wantCreates int
	}{
		{name: "stored at once", losses: 0, wantCreates: 1},
		{name: "lost once, stored on the second attempt", losses: 1, wantCreates: 2},
		{name: "lost every time", losses: createAttempts, wantErr: true, wantCreates: createAttempts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := &lossyBackend{losses: tc.losses, rev: 41, keys: map[string]int64{}}
			rev, err := checkedCreates{inner}.Create(context.Background(), "/registry/x", []byte("v"), 0)
			if inner.creates != tc.wantCreates {
				t.Errorf("%d creates reached the datastore; want %d", inner.creates, tc.wantCreates)
			}
			if tc.wantErr {
				if err == nil {
					t.Fatalf("a create never stored was reported done at revision %d", rev)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if stored, ok := inner.keys["/registry/x"]; !ok || stored != rev {
				t.Fatalf("reported revision %d; stored %d (%v)", rev, stored, ok)
			}
		})
	}
}

func TestCheckedCreatesKeepKeyExists(t *testing.T) {
	inner := &lossyBackend{rev: 7, keys: map[string]int64{"/registry/x": 3}}
	if _, err := (checkedCreates{inner}).Create(context.Background(), "/registry/x", nil, 0); !errors.Is(err, server.ErrKeyExists) {
		t.Fatalf("creating an existing key: %v; want ErrKeyExists", err)
	}
}
