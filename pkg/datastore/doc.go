// Package datastore turns --datastore-endpoint into the etcd endpoint the
// generic registry stores through: an embedded kine in front of SQLite (the
// default) or PostgreSQL, or an external etcd used natively. There is one
// registry code path; only where the etcd API points changes. Endpoints carry
// credentials, so this package never logs or returns one unredacted.
package datastore
