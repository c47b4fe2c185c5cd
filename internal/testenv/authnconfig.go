package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

// JWTIssuer is an OpenID issuer the central kube-apiserver is to trust,
// as one jwt entry of its structured authentication configuration.
type JWTIssuer struct {
	URL string
	// CAPEM verifies the issuer's serving certificate.
	CAPEM []byte
	// Audience is the client ID ID tokens are issued to.
	Audience string
	// UsernameClaim, GroupsClaim and UIDClaim map the token's claims; the
	// username and groups get no prefix.
	UsernameClaim, GroupsClaim, UIDClaim string
}

// authnConfigPath is the central kube-apiserver's --authentication-config:
// it starts with no issuer and reloads the file when TrustIssuer rewrites it.
func (tb *Testbed) authnConfigPath() string {
	return filepath.Join(tb.cfg.WorkDir, "authentication-config.yaml")
}

// writeAuthnConfig writes the authentication configuration trusting
// issuers, through a rename so that kube-apiserver never reads half a file.
func (tb *Testbed) writeAuthnConfig(issuers []JWTIssuer) error {
	jwt := []map[string]any{}
	for _, is := range issuers {
		jwt = append(jwt, map[string]any{
			"issuer": map[string]any{
				"url":                  is.URL,
				"audiences":            []string{is.Audience},
				"certificateAuthority": string(is.CAPEM),
			},
			"claimMappings": map[string]any{
				"username": map[string]any{"claim": is.UsernameClaim, "prefix": ""},
				"groups":   map[string]any{"claim": is.GroupsClaim, "prefix": ""},
				"uid":      map[string]any{"claim": is.UIDClaim},
			},
		})
	}
	data, err := yaml.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1",
		"kind":       "AuthenticationConfiguration",
		"jwt":        jwt,
	})
	if err != nil {
		return fmt.Errorf("encoding the authentication configuration: %w", err)
	}
	tmp := tb.authnConfigPath() + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing the authentication configuration: %w", err)
	}
	if err := os.Rename(tmp, tb.authnConfigPath()); err != nil {
		return fmt.Errorf("replacing the authentication configuration: %w", err)
	}
	return nil
}

// TrustIssuer makes the central kube-apiserver accept ID tokens of issuer
// (besides every issuer trusted before), and returns once it accepts
// probe, an ID token of that issuer, naming the person in it as want.
func (tb *Testbed) TrustIssuer(ctx context.Context, issuer JWTIssuer, probe, want string) error {
	tb.mu.Lock()
	tb.trustedIssuers = append(tb.trustedIssuers, issuer)
	issuers := append([]JWTIssuer(nil), tb.trustedIssuers...)
	tb.mu.Unlock()
	if err := tb.writeAuthnConfig(issuers); err != nil {
		return err
	}
	cfg := &rest.Config{Host: tb.serverURL, BearerToken: probe, TLSClientConfig: rest.TLSClientConfig{CAData: tb.pki.cluster.CA.CertPEM}, Timeout: 10 * time.Second}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a client with the probe token: %w", err)
	}
	// kube-apiserver notices the file within a second (fsnotify), or at
	// its one-minute poll.
	waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	return WaitUntil(waitCtx, "kube-apiserver trusting "+issuer.URL, nil, func(ctx context.Context) error {
		review, err := kube.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("reviewing the probe token: %w", err)
		}
		if got := review.Status.UserInfo.Username; got != want {
			if strings.HasPrefix(got, "system:anonymous") {
				return fmt.Errorf("the probe token is not accepted yet")
			}
			return Permanent(fmt.Errorf("the probe token names %q, want %q", got, want))
		}
		return nil
	})
}
