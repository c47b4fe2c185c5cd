// Package signouts shares sign-outs between the replicas of janus-console
// through one ConfigMap: a replica that signs someone out records a hash of
// the session's ID there with the time the session would have ended anyway,
// and every replica follows the ConfigMap with an informer, so the old
// cookie stops working everywhere within moments. It stores no identity,
// token or cookie, only those hashes, and prunes them once they expire.
package signouts
