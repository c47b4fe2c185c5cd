// Package datastore turns --datastore-endpoint into the etcd endpoint the
// generic registry stores through: an embedded kine in front of SQLite (the
// default) or PostgreSQL, or an external etcd used natively (https:// with
// client TLS files, or plaintext etcd://). There is one
// registry code path; only where the etcd API points changes. Endpoints carry
// credentials, so this package never logs or returns one unredacted, and
// --datastore-endpoint-file reads one from a file (a mounted Secret) so it
// is in neither argv nor the pod spec.
//
// SQLite is kine's own driver over github.com/mattn/go-sqlite3 (cgo), the
// one k3s ships and kine's SQLite code is written and tested against; the
// pure-Go modernc driver is not linked by `go build`, which, as the tests,
// uses CGO_ENABLED=1. The static images of `make image` are built with
// CGO_ENABLED=0, where kine's build constraints link modernc.org/sqlite
// instead (kine's own pure-Go path, same DSN translated).
//
// In front of the embedded kine it adds what kine lacks: every create kine
// reports is read back, so a create it reports but did not store is never
// acknowledged (creates.go); on SQLite the etcd API takes one write at a
// time, and on PostgreSQL at most --datastore-max-concurrent-calls calls
// (limits.go); SQLite's WAL is checkpointed in the background instead of
// in the commit of whichever write fills it (checkpoint.go); replicas
// starting at once on a fresh PostgreSQL database, whose schema setup
// races, try it again (schemarace.go). On PostgreSQL, which replicas
// share, kine polls for the other replicas' writes every
// --datastore-poll-interval (20 ms) instead of every second (kine.go).
package datastore
