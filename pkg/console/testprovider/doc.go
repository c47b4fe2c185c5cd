// Package testprovider runs a real OpenID Connect provider in-process for
// the console's tests and playground: zitadel/oidc's op package (code flow
// with PKCE, discovery, JWKS, signed ID tokens) over the in-memory storage
// of zitadel's example server, with demo users signing in with a password
// on a login page of its own. It adds a "groups" claim when the "groups"
// scope is asked for. It is for tests and demos only: passwords are plain.
package testprovider
