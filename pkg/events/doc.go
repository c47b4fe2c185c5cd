// Package events records Kubernetes Events about AccessRequests, so that
// `kubectl describe ar NAME` tells a request's story. Events go to the
// central kube-apiserver when Janus has a client for it; otherwise they are
// only logged. Recording is best effort and never blocks a decision.
package events
