// Package signin signs people in to the console with OpenID Connect (the
// authorization code flow with PKCE, state and nonce, through go-oidc and
// x/oauth2) or with GitHub (OAuth2 with PKCE, then the REST API for the
// login, verified e-mail, organizations and teams), maps who they are to a
// Kubernetes identity the way kube-apiserver's --oidc-* flags do, and keeps
// that identity in a sealed session cookie (Secure, HttpOnly,
// SameSite=Lax). Sign-out revokes the session (on this replica,
// or on all through a shared Revocations), so the old cookie no longer
// works. It never takes an identity from anything the
// browser sends but a sealed cookie.
package signin
