// Package kubeclient builds, per request, Kubernetes clients that act as
// the signed-in person: either the console's own credentials (which may
// only impersonate) plus impersonation of the identity from the verified
// ID token, or (--kube-auth=token) that ID token itself with no console
// credentials at all. Nothing the browser sends reaches the impersonation
// headers or the Authorization header.
package kubeclient
