package tunnelserver

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/infroware/janus/pkg/tunnel"
)

// connect runs one /connect handshake against s in process and returns the
// answer; a refused handshake never needs a real connection.
func connect(s *Server, cluster, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, tunnel.ConnectPath, nil)
	if cluster != "" {
		req.Header.Set(tunnel.HeaderCluster, cluster)
	}
	if token != "" {
		req.Header.Set(tunnel.HeaderAgentToken, token)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return rec
}

func TestConnectRefusesMalformedHandshakesBeforeReadingStorage(t *testing.T) {
	iss := newTestIssuer(t, "https://dev.example.com")
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", iss))
	s := NewServer(clusters, time.Hour)
	good := iss.token(t, time.Hour)
	cases := []struct {
		name, cluster, token string
		want                 int
	}{
		{"a path as cluster name", "../dev", good, http.StatusBadRequest},
		{"an upper-case cluster name", "DEV", good, http.StatusBadRequest},
		{"no cluster name", "", good, http.StatusBadRequest},
		{"a cluster name over 253 characters", strings.Repeat("a", 254), good, http.StatusBadRequest},
		{"an oversized token", "dev", strings.Repeat("x", maxTokenBytes+1), http.StatusBadRequest},
		{"no token", "dev", "", http.StatusUnauthorized},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := clusters.reads.Load()
			if got := connect(s, tc.cluster, tc.token).Code; got != tc.want {
				t.Errorf("handshake answered %d, want %d", got, tc.want)
			}
			if reads := clusters.reads.Load() - before; reads != 0 {
				t.Errorf("the refusal read storage %d times, want none", reads)
			}
		})
	}
}

func TestConnectAnswersBusyWithRetryAfterWhenHandshakesAreFull(t *testing.T) {
	clusters := &fakeClusters{gate: make(chan struct{})}
	s := NewServer(clusters, time.Hour)
	// Every handshake slot held by an agent whose Cluster read hangs.
	done := make(chan int, maxConcurrentHandshakes)
	for range maxConcurrentHandshakes {
		go func() { done <- connect(s, "dev", "some-token").Code }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for clusters.reads.Load() < maxConcurrentHandshakes {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d handshakes reached storage", clusters.reads.Load(), maxConcurrentHandshakes)
		}
		time.Sleep(time.Millisecond) // polling the counter, bounded by deadline
	}
	rec := connect(s, "dev", "some-token")
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("a handshake over the limit answered %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q, want 1", got)
	}
	if reads := clusters.reads.Load(); reads != maxConcurrentHandshakes {
		t.Errorf("storage read %d times, want %d: the busy answer must not read it", reads, maxConcurrentHandshakes)
	}
	close(clusters.gate)
	for range maxConcurrentHandshakes {
		if code := <-done; code != http.StatusUnauthorized {
			t.Errorf("a held handshake for an unknown Cluster answered %d, want 401", code)
		}
	}
	// The slots are free again.
	if code := connect(s, "dev", "some-token").Code; code != http.StatusUnauthorized {
		t.Errorf("after the burst a handshake answered %d, want 401 (unknown Cluster)", code)
	}
}

func TestVerifyRefusesTokensThatAreNotTheClusterAgents(t *testing.T) {
	dev := newTestIssuer(t, "https://dev.example.com")
	prod := newTestIssuer(t, "https://prod.example.com")
	forger := newTestIssuer(t, dev.url) // dev's name, another key
	clusters := &fakeClusters{}
	clusters.set(trustingCluster(t, "dev", dev))
	clusters.set(trustingCluster(t, "prod", prod))
	v := NewIdentityVerifier(clusters, time.Hour)
	now := time.Now()
	claims := func(edit func(*jwt.Claims)) jwt.Claims {
		c := jwt.Claims{Issuer: dev.url, Subject: agentSubject, Audience: jwt.Audience{tunnel.Audience},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
		edit(&c)
		return c
	}
	cases := []struct {
		name    string
		cluster string
		token   string
		want    refusal
	}{
		{"another issuer's name", "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.Issuer = "https://other.example.com" })), refusedInvalidToken},
		{"the API server's audience", "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.Audience = jwt.Audience{"https://kubernetes.default.svc"} })), refusedInvalidToken},
		{"another service account", "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.Subject = "system:serviceaccount:default:default" })), refusedWrongAccount},
		{"expired", "dev", dev.sign(t, claims(func(c *jwt.Claims) {
			c.IssuedAt, c.Expiry = jwt.NewNumericDate(now.Add(-time.Hour)), jwt.NewNumericDate(now.Add(-time.Minute))
		})), refusedInvalidToken},
		{"living over the bound", "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(time.Hour + time.Minute)) })), refusedLongLived},
		{"without iat", "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.IssuedAt = nil })), refusedLongLived},
		{"a forged signature", "dev", forger.sign(t, claims(func(*jwt.Claims) {})), refusedInvalidToken},
		{"another cluster's agent", "prod", dev.token(t, time.Hour), refusedInvalidToken},
		{"an unknown cluster", "staging", dev.token(t, time.Hour), refusedUnknownCluster},
		{"not a JWT", "dev", "not-a-jwt", refusedInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(t.Context(), tc.cluster, tc.token)
			var refused *RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("Verify: %v, want a refusal (%s)", err, tc.want)
			}
			if refused.Reason != tc.want {
				t.Errorf("refused as %s (%v), want %s", refused.Reason, refused.Err, tc.want)
			}
		})
	}

	t.Run("the agent's own token", func(t *testing.T) {
		exp := now.Add(time.Hour).Truncate(time.Second)
		proof, err := v.Verify(t.Context(), "dev", dev.sign(t, claims(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(exp) })))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if !proof.expires.Equal(exp) {
			t.Errorf("the proof expires %v, want the token's %v", proof.expires, exp)
		}
		a := trustingCluster(t, "dev", dev).Spec.Agent
		if proof.trust != trustOf(a.Issuer, a.JWKS, a.ServiceAccount) {
			t.Errorf("the proof's trust is not the Cluster's spec.agent")
		}
	})

	t.Run("refusals answer 401", func(t *testing.T) {
		s := NewServer(clusters, time.Hour)
		for _, token := range []string{"not-a-jwt", forger.token(t, time.Hour), dev.token(t, 2*time.Hour)} {
			if got := connect(s, "dev", token).Code; got != http.StatusUnauthorized {
				t.Errorf("handshake answered %d, want 401", got)
			}
		}
	})
}

// TestVerifyDiscoversKeysOnceAndFollowsTrust: a Cluster without inline
// keys is verified with the keys its issuer's discovery document points
// at, fetched once per trust, not once per agent.
func TestVerifyDiscoversKeysOnceAndFollowsTrust(t *testing.T) {
	var discoveries, keyFetches atomic.Int32
	var iss *testIssuer
	mux := http.NewServeMux()
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	iss = newTestIssuer(t, hs.URL)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		discoveries.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": hs.URL, "jwks_uri": hs.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		keyFetches.Add(1)
		_, _ = w.Write([]byte(iss.jwks(t)))
	})
	c := trustingCluster(t, "dev", iss)
	c.Spec.Agent.JWKS = ""
	clusters := &fakeClusters{}
	clusters.set(c)
	v := NewIdentityVerifier(clusters, time.Hour)
	for i := range 3 {
		if _, err := v.Verify(t.Context(), "dev", iss.token(t, time.Hour)); err != nil {
			t.Fatalf("verification %d by discovery: %v", i, err)
		}
	}
	if got := discoveries.Load(); got != 1 {
		t.Errorf("the discovery document was fetched %d times for three agents, want once", got)
	}
	if got := keyFetches.Load(); got != 1 {
		t.Errorf("the keys were fetched %d times for three agents, want once", got)
	}
	// A new trust (another service account) builds a new verifier.
	c = c.DeepCopy()
	c.Spec.Agent.ServiceAccount = "kube-system/janus-agent"
	clusters.set(c)
	_, err := v.Verify(t.Context(), "dev", iss.token(t, time.Hour))
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Reason != refusedWrongAccount {
		t.Errorf("under the new trust the old account's token: %v, want %s", err, refusedWrongAccount)
	}
	if got := discoveries.Load(); got != 2 {
		t.Errorf("after the trust changed the discovery document was fetched %d times in all, want 2", got)
	}
}
