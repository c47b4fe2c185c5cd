// Package e2e tests Janus end to end, the way people use it: the real
// kubectl, as the testbed's demo users, against a real kube-apiserver that
// serves janus.infroware.io through its aggregation layer, with RBAC and the
// audit log deciding and recording. One testbed serves the whole package.
//
// The tests must not reach into janus-apiserver around the kube-apiserver,
// nor sleep: they wait for conditions with deadlines.
package e2e
