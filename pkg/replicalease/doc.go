// Package replicalease tells the janus-apiserver replicas which of them
// are alive, the way kube-apiservers keep identity Leases: every replica
// renews a Lease of its own in the central cluster (Heartbeat), and a
// reader of those Leases (Observer) counts a replica gone once its Lease
// has not changed for a whole lease duration of the reader's own clock,
// so clock skew between replicas does not matter. A replica that cannot
// renew its Lease for half a duration is told to stop acting as alive
// (Heartbeat's OnStale) before anyone may count it gone.
//
// It only knows Leases: what a lapsed replica leaves (its Open Sessions)
// is closed by pkg/controller/lostreplica.
package replicalease
