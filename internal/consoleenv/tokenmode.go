package consoleenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/testprovider"
)

// providerTLS is the provider's serving certificate in token mode:
// kube-apiserver trusts only an HTTPS issuer.
type providerTLS struct {
	caPEM, certPEM, keyPEM []byte
	// caFile is caPEM on disk, for the console's --oidc-ca-file.
	caFile string
}

func newProviderTLS(workDir string) (*providerTLS, error) {
	ca, err := testenv.NewCA("janus-demo-openid-provider-ca")
	if err != nil {
		return nil, err
	}
	certPEM, keyPEM, err := ca.Issue(testenv.CertSpec{
		CommonName: "janus-demo-openid-provider",
		DNSNames:   []string{"localhost"},
		IPs:        []net.IP{net.IPv4(127, 0, 0, 1)},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, err
	}
	caFile := filepath.Join(workDir, "openid-provider-ca.crt")
	if err := writeSecretFile(caFile, string(ca.CertPEM)); err != nil {
		return nil, fmt.Errorf("writing the provider's CA: %w", err)
	}
	return &providerTLS{caPEM: ca.CertPEM, certPEM: certPEM, keyPEM: keyPEM, caFile: caFile}, nil
}

// trustProvider makes the central kube-apiserver accept the provider's ID
// tokens issued to the console, mapped as the console maps them, and waits
// until it accepts one of the first demo user's.
func trustProvider(ctx context.Context, tb *testenv.Testbed, c *Console, secret string, tlsFiles *providerTLS) error {
	user := c.Users[0]
	probe, err := IDToken(ctx, c, secret, tlsFiles.caPEM, user)
	if err != nil {
		return fmt.Errorf("getting an ID token of %s to check kube-apiserver's trust: %w", user.Username, err)
	}
	return tb.TrustIssuer(ctx, testenv.JWTIssuer{
		URL: c.Provider.Issuer, CAPEM: tlsFiles.caPEM, Audience: ClientID,
		UsernameClaim: "preferred_username", GroupsClaim: "groups", UIDClaim: "sub",
	}, probe, user.Username)
}

// IDToken signs user in at the provider as the console's client would,
// through the provider's login form, and returns the ID token.
func IDToken(ctx context.Context, c *Console, secret string, caPEM []byte, user testprovider.User) (string, error) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	jar, _ := cookiejar.New(nil)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig.RootCAs = roots
	callback := c.URL + "/auth/callback"
	client := &http.Client{Jar: jar, Transport: transport, Timeout: 15 * time.Second,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), callback+"?") {
				return http.ErrUseLastResponse
			}
			return nil
		}}
	ctx = oidc.ClientContext(ctx, client)
	provider, err := oidc.NewProvider(ctx, c.Provider.Issuer)
	if err != nil {
		return "", fmt.Errorf("discovering the provider: %w", err)
	}
	oc := oauth2.Config{ClientID: ClientID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: callback,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile", testprovider.GroupsScope}}
	verifier := oauth2.GenerateVerifier()
	resp, err := c.Provider.SignIn(client, oc.AuthCodeURL("probe", oauth2.S256ChallengeOption(verifier)), user.Username, user.Password)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return "", fmt.Errorf("the provider did not send the browser back (%s): %w", resp.Status, err)
	}
	token, err := oc.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("exchanging the code: %w", err)
	}
	raw, _ := token.Extra("id_token").(string)
	if raw == "" {
		return "", fmt.Errorf("the provider sent no ID token")
	}
	return raw, nil
}
