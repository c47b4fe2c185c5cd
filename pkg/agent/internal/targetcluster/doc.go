// Package targetcluster runs a real etcd and kube-apiserver on loopback to
// stand in for a target cluster in the agent's tests: RBAC authorization,
// an admin client certificate in system:masters, and ServiceAccount keys so
// that TokenRequest works. There is no controller manager, kubelet or
// scheduler: objects are stored and authorized, never acted on (a deleted
// namespace stays Terminating).
//
// It is for tests only. It must not listen anywhere but 127.0.0.1, and it
// stops what it started by PID.
package targetcluster
