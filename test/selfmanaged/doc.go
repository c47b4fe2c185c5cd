// Package selfmanaged tests janus-apiserver's self-managed serving
// certificate against a real kube-apiserver: the APIService becomes
// Available only with the caBundle Janus wrote itself. It starts its own
// testbed, separate from test/e2e's, because the certificate mode is
// chosen at start.
package selfmanaged
