// Package accessrequest is the REST storage of AccessRequests: the main
// resource, its status, the decision subresources (approve, deny, revoke,
// withdraw, extend) through which every decision is taken, and the gate of
// the exec and log subresources. It stamps the requester from the
// authenticated user, enforces the lifecycle, keeps a deleted request until
// the controller has revoked it (the grant finalizer), asks the authorizer
// who may decide, and decides who may open a stream or read pods and
// Events: the requester, while Active and before expiresAt, in a granted
// namespace, with valid options. It never carries a stream itself nor
// talks to a target cluster: pkg/session does, and reports each session
// back through the Observer sessions.go implements, which records it in
// the request's status and Events; the reads (reads.go) ask the cluster's
// agent through pkg/tunnelserver.
package accessrequest
