// Package framework runs a real janus-apiserver in-process for integration
// tests: real HTTPS, real front-proxy (requestheader) authentication as the
// aggregator does it, and one of the real storage backends — embedded
// SQLite, PostgreSQL or embedded etcd. Authorization is the one stand-in: the
// RBAC rules of the ClusterRoles in artifacts/, evaluated with the upstream
// RBAC rule matcher, where production asks the kube-apiserver; the e2e tests
// use a real kube-apiserver instead.
package framework
