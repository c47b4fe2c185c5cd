// Package lostreplica closes what a janus-apiserver replica that stopped
// for good (scaled down, its node lost, renamed) left behind: its Open
// Sessions, whose relay and recording writer died with it, and its
// heartbeat Lease. A replica that restarts closes its own (the session
// registry's CloseLeftOpen); this controller, run by the Lease holder only,
// closes those of a replica whose heartbeat (pkg/replicalease) lapsed.
// It never touches a replica that still renews its Lease, nor one whose
// Lease it never saw (a replica of a version without heartbeats, during a
// rolling upgrade).
package lostreplica
