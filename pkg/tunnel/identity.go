package tunnel

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/infroware/janus/pkg/apis/janus"
)

// ClusterGetter reads a Cluster consistently from storage.
type ClusterGetter interface {
	GetCluster(ctx context.Context, name string) (*janus.Cluster, error)
}

// refusal is why an agent was turned away; it labels the refusal metric.
type refusal string

const (
	refusedUnknownCluster refusal = "unknown_cluster"
	refusedNotConfigured  refusal = "agent_not_configured"
	refusedNoToken        refusal = "no_token"
	refusedInvalidToken   refusal = "invalid_token"
	refusedWrongAccount   refusal = "wrong_service_account"
	refusedStreamTicket   refusal = "stream_ticket"
)

// RefusedError says why an agent's identity was not accepted.
type RefusedError struct {
	Reason  refusal
	Cluster string
	Err     error
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("agent for cluster %q refused (%s): %v", e.Cluster, e.Reason, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }

// IdentityVerifier checks that an agent's token is a projected
// ServiceAccount token of the Cluster it claims, with Janus's audience, from
// the ServiceAccount that Cluster names.
type IdentityVerifier struct {
	clusters ClusterGetter

	mu sync.Mutex
	// verifiers are cached per cluster and resourceVersion, so a changed
	// Cluster spec takes effect on the next connection.
	verifiers map[string]cachedVerifier
}

type cachedVerifier struct {
	resourceVersion string
	verifier        *oidc.IDTokenVerifier
}

// NewIdentityVerifier returns a verifier reading Clusters from clusters.
func NewIdentityVerifier(clusters ClusterGetter) *IdentityVerifier {
	return &IdentityVerifier{clusters: clusters, verifiers: map[string]cachedVerifier{}}
}

// Verify returns nil when token proves the caller is the agent of cluster.
func (v *IdentityVerifier) Verify(ctx context.Context, cluster, token string) error {
	if token == "" {
		return &RefusedError{refusedNoToken, cluster, errors.New("no token in " + HeaderAgentToken)}
	}
	c, err := v.clusters.GetCluster(ctx, cluster)
	if apierrors.IsNotFound(err) {
		return &RefusedError{refusedUnknownCluster, cluster, errors.New("no such Cluster")}
	}
	if err != nil {
		return fmt.Errorf("reading cluster %q: %w", cluster, err)
	}
	agent := c.Spec.Agent
	ns, name, ok := strings.Cut(agent.ServiceAccount, "/")
	if agent.Issuer == "" || !ok {
		return &RefusedError{refusedNotConfigured, cluster, errors.New("the Cluster has no spec.agent.issuer and spec.agent.serviceAccount")}
	}
	verifier, err := v.verifierFor(ctx, c)
	if err != nil {
		return &RefusedError{refusedNotConfigured, cluster, err}
	}
	idToken, err := verifier.Verify(ctx, token)
	if err != nil {
		return &RefusedError{refusedInvalidToken, cluster, err}
	}
	if want := "system:serviceaccount:" + ns + ":" + name; idToken.Subject != want {
		return &RefusedError{refusedWrongAccount, cluster, fmt.Errorf("token is for %q, the Cluster trusts %q", idToken.Subject, want)}
	}
	return nil
}

func (v *IdentityVerifier) verifierFor(ctx context.Context, c *janus.Cluster) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	cached, ok := v.verifiers[c.Name]
	v.mu.Unlock()
	if ok && cached.resourceVersion == c.ResourceVersion {
		return cached.verifier, nil
	}
	config := &oidc.Config{ClientID: Audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.RS384, oidc.RS512, oidc.ES384, oidc.ES512, oidc.EdDSA}}
	var verifier *oidc.IDTokenVerifier
	if raw := c.Spec.Agent.JWKS; raw != "" {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(raw), &set); err != nil {
			return nil, fmt.Errorf("parsing spec.agent.jwks: %w", err)
		}
		keys := make([]crypto.PublicKey, 0, len(set.Keys))
		for _, k := range set.Keys {
			keys = append(keys, k.Key)
		}
		if len(keys) == 0 {
			return nil, errors.New("spec.agent.jwks holds no keys")
		}
		verifier = oidc.NewVerifier(c.Spec.Agent.Issuer, &oidc.StaticKeySet{PublicKeys: keys}, config)
	} else {
		// Keys come from the issuer's discovery document, fetched (and
		// refreshed on unknown key IDs) by go-oidc for as long as the
		// process lives.
		provider, err := oidc.NewProvider(context.WithoutCancel(ctx), c.Spec.Agent.Issuer)
		if err != nil {
			return nil, fmt.Errorf("discovering issuer %s: %w", c.Spec.Agent.Issuer, err)
		}
		verifier = provider.Verifier(config)
	}
	v.mu.Lock()
	v.verifiers[c.Name] = cachedVerifier{resourceVersion: c.ResourceVersion, verifier: verifier}
	v.mu.Unlock()
	return verifier, nil
}
