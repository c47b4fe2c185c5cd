package tunnelserver

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/tunnel"
)

const agentSubject = "system:serviceaccount:janus:janus-agent"

// fakeClusters is a ClusterGetter over a map that counts its reads; when
// gate is set, every read waits for it to close.
type fakeClusters struct {
	mu       sync.Mutex
	clusters map[string]*janus.Cluster
	reads    atomic.Int32
	gate     chan struct{}
}

func (f *fakeClusters) GetCluster(ctx context.Context, name string) (*janus.Cluster, error) {
	f.reads.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.clusters[name]
	if !ok {
		return nil, apierrors.NewNotFound(janus.Resource("clusters"), name)
	}
	return c.DeepCopy(), nil
}

func (f *fakeClusters) set(c *janus.Cluster) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.clusters == nil {
		f.clusters = map[string]*janus.Cluster{}
	}
	f.clusters[c.Name] = c
}

func (f *fakeClusters) remove(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.clusters, name)
}

// testIssuer signs ServiceAccount-shaped tokens with a key of its own.
type testIssuer struct {
	url string
	key *rsa.PrivateKey
}

func newTestIssuer(t *testing.T, url string) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return &testIssuer{url: url, key: key}
}

func (i *testIssuer) jwks(t *testing.T) string {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatalf("encoding the JWKS: %v", err)
	}
	return string(data)
}

// claims are a token's; a zero IssuedAt is left out.
func (i *testIssuer) sign(t *testing.T, c jwt.Claims) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: i.key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatalf("making a signer: %v", err)
	}
	raw, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatalf("signing a token: %v", err)
	}
	return raw
}

// token is a good agent token for i: the agent's subject, Janus's
// audience, minted now and living lifetime.
func (i *testIssuer) token(t *testing.T, lifetime time.Duration) string {
	t.Helper()
	now := time.Now()
	return i.sign(t, jwt.Claims{Issuer: i.url, Subject: agentSubject, Audience: jwt.Audience{tunnel.Audience},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(lifetime))})
}

// trustingCluster is a Cluster whose agent trust is i's key, inline.
func trustingCluster(t *testing.T, name string, i *testIssuer) *janus.Cluster {
	t.Helper()
	return &janus.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       janus.ClusterSpec{Agent: janus.ClusterAgent{Issuer: i.url, JWKS: i.jwks(t), ServiceAccount: "janus/janus-agent"}},
	}
}
