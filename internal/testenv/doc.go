// Package testenv is the one test environment of the repository, shared by
// the e2e tests, the integration tests, the agent's tests and
// janus-playground: certificates, supervised processes (started, logged to
// files, waited for, stopped by PID), the upstream binaries that
// hack/testbin.sh builds, a bare etcd and kube-apiserver, a PostgreSQL
// server of a test's own that it may restart, and the full testbed built
// from those parts — a central control plane on loopback with
// janus-apiserver aggregated into it through the manifests in
// artifacts/central, target clusters with kwok pods and connected agents,
// and demo users whose RBAC decides what they may do.
//
// It is test and playground infrastructure. Production binaries
// (janus-apiserver, janus-agent, kubectl-janus) must never import it; it
// must not depend on package testing, listen anywhere but loopback, leave a
// process running after Stop, or write a credential to a log.
package testenv
