// Package accessrequest is the REST storage of AccessRequests: the main
// resource, its status, and the action subresources (approve, deny, revoke,
// withdraw, extend) through which every decision is taken. It stamps the
// requester from the authenticated user, enforces the lifecycle and asks the
// authorizer who may decide; it never talks to a target cluster.
package accessrequest
