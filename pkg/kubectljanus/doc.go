// Package kubectljanus is the kubectl plugin `kubectl janus`: it files,
// lists, describes and decides AccessRequests, waits on them, and runs exec
// and logs through an active request, as the user of the current kubeconfig.
// It talks only to the janus.infroware.io API through the kube-apiserver and
// leaves every decision to the server: it must not re-implement validation
// or authorization, only show what the server answers the way kubectl would.
package kubectljanus
