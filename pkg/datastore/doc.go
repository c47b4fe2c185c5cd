// Package datastore turns --datastore-endpoint into the etcd endpoint the
// generic registry stores through: an embedded kine in front of SQLite (the
// default) or PostgreSQL, or an external etcd used natively. There is one
// registry code path; only where the etcd API points changes. Endpoints carry
// credentials, so this package never logs or returns one unredacted.
//
// SQLite is kine's own driver over github.com/mattn/go-sqlite3 (cgo), the
// one k3s ships and kine's SQLite code is written and tested against; the
// pure-Go modernc driver is not linked. janus-apiserver is therefore built
// with CGO_ENABLED=1, and the tests run that same build.
package datastore
