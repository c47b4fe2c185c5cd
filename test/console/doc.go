// Package console tests janus-console end to end in real headless
// Chromium: a testbed (central kube-apiserver, janus-apiserver, a target
// cluster with its agent), a real in-process OpenID provider with the demo
// users, and the console acting as each signed-in person through the
// impersonation ClusterRole of artifacts/console.
package console
