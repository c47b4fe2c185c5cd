// Package testbed runs a real central control plane on loopback with Janus
// aggregated into it: etcd, kube-apiserver, kube-controller-manager (the
// upstream binaries that hack/testbin.sh builds) and janus-apiserver as
// separate processes, registered through the manifests in artifacts/central,
// with demo users whose RBAC decides what they may do. The e2e tests and
// janus-playground drive it with the real kubectl.
//
// It must not depend on package testing, listen anywhere but loopback, or
// leave a process running after Stop; it never writes a credential to a log.
package testbed
