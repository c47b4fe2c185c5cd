package signin

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oidcProvider signs people in at an OpenID Connect issuer: the
// authorization code flow with PKCE, and an ID token verified for its
// signature, issuer, audience, expiry and nonce.
type oidcProvider struct {
	issuer     string
	oauth      oauth2.Config
	verifier   *oidc.IDTokenVerifier
	claims     ClaimMapping
	httpClient *http.Client
	keepToken  bool
}

func newOIDCProvider(ctx context.Context, cfg Config, redirect string, now func() time.Time) (*oidcProvider, error) {
	if cfg.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, cfg.HTTPClient)
	}
	provider, err := oidc.NewProvider(ctx, cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("discovering OpenID issuer %s: %w", cfg.IssuerURL, err)
	}
	return &oidcProvider{
		issuer: cfg.IssuerURL,
		oauth: oauth2.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret,
			Endpoint:     provider.Endpoint(),
			RedirectURL:  redirect,
			Scopes:       append([]string{oidc.ScopeOpenID, "email", "profile"}, cfg.ExtraScopes...),
		},
		// Checks the signature against the issuer's keys, iss, aud = our
		// client ID, and exp.
		verifier:   provider.VerifierContext(context.WithoutCancel(ctx), &oidc.Config{ClientID: cfg.ClientID, Now: now}),
		claims:     cfg.Claims,
		httpClient: cfg.HTTPClient,
		keepToken:  cfg.KeepIDToken,
	}, nil
}

func (p *oidcProvider) authCodeURL(state, nonce, pkceVerifier string) string {
	return p.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(pkceVerifier))
}

func (p *oidcProvider) identity(ctx context.Context, code, pkceVerifier, nonce string) (Identity, error) {
	if p.httpClient != nil {
		ctx = oidc.ClientContext(ctx, p.httpClient)
	}
	token, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(pkceVerifier))
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "exchanging the code failed: %v", err)
	}
	raw, ok := token.Extra("id_token").(string)
	if !ok {
		return Identity{}, refuse(http.StatusUnauthorized, "the identity provider sent no ID token")
	}
	return p.identityFromIDToken(ctx, raw, nonce)
}

// identityFromIDToken verifies raw (signature, issuer, audience, expiry
// and nonce) and maps its claims.
func (p *oidcProvider) identityFromIDToken(ctx context.Context, raw, nonce string) (Identity, error) {
	idToken, err := p.verifier.Verify(ctx, raw)
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "the ID token is not valid: %v", err)
	}
	if subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return Identity{}, refuse(http.StatusUnauthorized, "the ID token's nonce does not match the sign-in this browser started")
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "reading the ID token's claims: %v", err)
	}
	id, err := p.claims.Map(p.issuer, claims)
	if err != nil {
		return Identity{}, refuse(http.StatusUnauthorized, "%v", err)
	}
	if p.keepToken {
		id.Token, id.TokenExpires = raw, idToken.Expiry
	}
	return id, nil
}
