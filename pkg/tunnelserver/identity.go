package tunnelserver

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/tunnel"
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
	refusedMalformed      refusal = "malformed"
	refusedBusy           refusal = "busy"
	refusedLongLived      refusal = "token_lifetime"
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

// maxTokenBytes bounds an agent's token; a projected ServiceAccount token
// is about a kilobyte.
const maxTokenBytes = 16 << 10

// discoveryClient fetches issuers' discovery documents and keys: a slow
// or silent issuer must not hold an agent's handshake open.
var discoveryClient = &http.Client{Timeout: 10 * time.Second}

// IdentityVerifier checks that an agent's token is a projected
// ServiceAccount token of the Cluster it claims, with Janus's audience, from
// the ServiceAccount that Cluster names.
type IdentityVerifier struct {
	clusters ClusterGetter
	// maxLifetime bounds exp - iat of an agent's token: a stolen
	// long-lived token would be a standing key to the cluster's tunnel.
	maxLifetime time.Duration

	mu sync.Mutex
	// verifiers are cached per cluster and spec.agent, so a changed trust
	// takes effect on the next connection and nothing else refetches.
	verifiers map[string]cachedVerifier
}

type cachedVerifier struct {
	// trust is the spec.agent the verifier was built from.
	trust    string
	verifier *oidc.IDTokenVerifier
	// err is why it could not be built, remembered until retryAt so that
	// a fleet of agents does not send one discovery request each.
	err     error
	retryAt time.Time
}

// discoveryRetry is how long a failed discovery is remembered.
const discoveryRetry = 10 * time.Second

// NewIdentityVerifier returns a verifier reading Clusters from clusters and
// refusing tokens that live longer than maxLifetime.
func NewIdentityVerifier(clusters ClusterGetter, maxLifetime time.Duration) *IdentityVerifier {
	return &IdentityVerifier{clusters: clusters, maxLifetime: maxLifetime, verifiers: map[string]cachedVerifier{}}
}

// verified is what an accepted agent token proved.
type verified struct {
	// trust fingerprints the spec.agent it was verified under.
	trust string
	// expires is when the token does: the tunnel must not outlive it.
	expires time.Time
}

// Verify returns nil when token proves the caller is the agent of cluster,
// with the trust it was verified under and when the token expires.
func (v *IdentityVerifier) Verify(ctx context.Context, cluster, token string) (verified, error) {
	if msgs := validation.IsDNS1123Subdomain(cluster); len(msgs) > 0 {
		return verified{}, &RefusedError{refusedMalformed, cluster, fmt.Errorf("%s is not a Cluster name: %s", tunnel.HeaderCluster, strings.Join(msgs, "; "))}
	}
	if token == "" {
		return verified{}, &RefusedError{refusedNoToken, cluster, errors.New("no token in " + tunnel.HeaderAgentToken)}
	}
	if len(token) > maxTokenBytes {
		return verified{}, &RefusedError{refusedMalformed, cluster, fmt.Errorf("the token is over %d bytes", maxTokenBytes)}
	}
	c, err := v.clusters.GetCluster(ctx, cluster)
	if apierrors.IsNotFound(err) {
		return verified{}, &RefusedError{refusedUnknownCluster, cluster, errors.New("no such Cluster")}
	}
	if err != nil {
		return verified{}, fmt.Errorf("reading cluster %q: %w", cluster, err)
	}
	agent := c.Spec.Agent
	ns, name, ok := strings.Cut(agent.ServiceAccount, "/")
	if agent.Issuer == "" || !ok {
		return verified{}, &RefusedError{refusedNotConfigured, cluster, errors.New("the Cluster has no spec.agent.issuer and spec.agent.serviceAccount")}
	}
	verifier, err := v.verifierFor(ctx, c)
	if err != nil {
		return verified{}, &RefusedError{refusedNotConfigured, cluster, err}
	}
	idToken, err := verifier.Verify(ctx, token)
	if err != nil {
		return verified{}, &RefusedError{refusedInvalidToken, cluster, err}
	}
	if want := "system:serviceaccount:" + ns + ":" + name; idToken.Subject != want {
		return verified{}, &RefusedError{refusedWrongAccount, cluster, fmt.Errorf("token is for %q, the Cluster trusts %q", idToken.Subject, want)}
	}
	if lifetime := idToken.Expiry.Sub(idToken.IssuedAt); idToken.IssuedAt.IsZero() || lifetime > v.maxLifetime {
		return verified{}, &RefusedError{refusedLongLived, cluster, fmt.Errorf("the token lives %s (iat %v), longer than the %s Janus accepts", lifetime, idToken.IssuedAt, v.maxLifetime)}
	}
	return verified{trust: trustOf(agent.Issuer, agent.JWKS, agent.ServiceAccount), expires: idToken.Expiry}, nil
}

func (v *IdentityVerifier) verifierFor(ctx context.Context, c *janus.Cluster) (*oidc.IDTokenVerifier, error) {
	a := c.Spec.Agent
	trust := trustOf(a.Issuer, a.JWKS, a.ServiceAccount)
	v.mu.Lock()
	cached, ok := v.verifiers[c.Name]
	v.mu.Unlock()
	if ok && cached.trust == trust {
		if cached.err == nil {
			return cached.verifier, nil
		}
		if time.Now().Before(cached.retryAt) {
			return nil, cached.err
		}
	}
	verifier, err := newVerifier(ctx, c)
	v.mu.Lock()
	v.verifiers[c.Name] = cachedVerifier{trust: trust, verifier: verifier, err: err, retryAt: time.Now().Add(discoveryRetry)}
	v.mu.Unlock()
	return verifier, err
}

// newVerifier builds the token verifier of c's agent trust.
func newVerifier(ctx context.Context, c *janus.Cluster) (*oidc.IDTokenVerifier, error) {
	config := &oidc.Config{ClientID: tunnel.Audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256, oidc.RS384, oidc.RS512, oidc.ES384, oidc.ES512, oidc.EdDSA}}
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
		// process lives, each fetch bounded by discoveryClient's timeout.
		provider, err := oidc.NewProvider(oidc.ClientContext(context.WithoutCancel(ctx), discoveryClient), c.Spec.Agent.Issuer)
		if err != nil {
			return nil, fmt.Errorf("discovering issuer %s: %w", c.Spec.Agent.Issuer, err)
		}
		verifier = provider.Verifier(config)
	}
	return verifier, nil
}
