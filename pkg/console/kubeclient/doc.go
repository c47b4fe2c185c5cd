// Package kubeclient builds, per request, Kubernetes clients that act as
// the signed-in person: the console's own credentials (which may only
// impersonate) plus impersonation of the identity from the verified ID
// token. Nothing the browser sends reaches the impersonation headers.
package kubeclient
