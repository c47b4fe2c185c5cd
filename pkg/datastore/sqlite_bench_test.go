package datastore

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkSQLiteGet times reads of one key of 2 KiB through kine on
// SQLite, the read an API server's update and consistent get make: CPU
// only (no fsync), so what SQLite's statement preparation costs shows.
//
//	go test ./pkg/datastore -run '^$' -bench SQLiteGet
func BenchmarkSQLiteGet(b *testing.B) {
	ctx := b.Context()
	_, client := sqliteKine(b, ctx, defaultWALCheckpoints)
	value := strings.Repeat("v", 2<<10)
	const keys = 500
	for i := range keys {
		if _, err := client.Put(ctx, fmt.Sprintf("/registry/bench/%d", i), value); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; b.Loop(); i++ {
		resp, err := client.Get(ctx, fmt.Sprintf("/registry/bench/%d", i%keys))
		if err != nil || len(resp.Kvs) != 1 {
			b.Fatalf("reading key %d: %v, %d values", i%keys, err, len(resp.Kvs))
		}
	}
}
