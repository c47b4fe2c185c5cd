package tunnelserver

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/tunnel"
)

const peerCallToken = "the-right-token-of-32-characters"

// peerCallHandler records what reaches the handler of peer calls.
type peerCallHandler struct {
	calls atomic.Int32
	last  atomic.Pointer[http.Request]
}

func (h *peerCallHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	h.calls.Add(1)
	h.last.Store(req)
	_, _ = io.WriteString(w, "answered "+req.Method+" "+req.URL.RequestURI()+" for "+CallingPeer(req))
}

func TestPeerCallsReachTheHandlerOfThePeerCalled(t *testing.T) {
	a, b, _, _ := peeredPair(t, &fakeClusters{}, peerCallToken)
	onB := &peerCallHandler{}
	b.HandlePeerCalls(onB)
	resp, err := a.CallPeer(t.Context(), "b", http.MethodGet, "/sessions/s-1/attach?x=1", nil)
	if err != nil {
		t.Fatalf("a calling b: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "answered GET /sessions/s-1/attach?x=1 for a" {
		t.Errorf("a calling b: %d %q, want b's handler's answer to a", resp.StatusCode, body)
	}
	if req := onB.last.Load(); req == nil || req.Header.Get(headerPeerToken) != "" {
		t.Errorf("b's handler saw the peer token (or no call): %v", req)
	}
	if _, err := a.CallPeer(t.Context(), "c", http.MethodGet, "/x", nil); !errors.Is(err, ErrNotAPeer) {
		t.Errorf("calling a replica that is not a peer: %v, want ErrNotAPeer", err)
	}
	if _, err := a.CallPeer(t.Context(), "a", http.MethodGet, "/x", nil); !errors.Is(err, ErrNotAPeer) {
		t.Errorf("a calling itself: %v, want ErrNotAPeer", err)
	}
	if _, err := NewServer(&fakeClusters{}, time.Hour).CallPeer(t.Context(), "b", http.MethodGet, "/x", nil); !errors.Is(err, ErrNotAPeer) {
		t.Errorf("calling without peering: %v, want ErrNotAPeer", err)
	}
}

// TestPeerCallsNeedThePeerTokenAndAListedPeer: what an ordinary client
// of the tunnel port sends never reaches the handler of peer calls.
func TestPeerCallsNeedThePeerTokenAndAListedPeer(t *testing.T) {
	_, b, _, hsB := peeredPair(t, &fakeClusters{}, peerCallToken)
	onB := &peerCallHandler{}
	b.HandlePeerCalls(onB)
	for _, tc := range []struct {
		name, peer, token string
		want              int
	}{
		{"no token", "a", "", http.StatusUnauthorized},
		{"wrong token", "a", "the-wrong-token-of-32-characters", http.StatusUnauthorized},
		{"a prefix of the token", "a", peerCallToken[:16], http.StatusUnauthorized},
		{"the token, no peer named", "", peerCallToken, http.StatusForbidden},
		{"the token, an unlisted replica", "c", peerCallToken, http.StatusForbidden},
		{"the token, a listed peer", "a", peerCallToken, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := onB.calls.Load()
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, hsB.URL+tunnel.ConnectPath, strings.NewReader("session terminated by mallory"))
			req.Header.Set(headerPeerCall, "/sessions/s-1/terminate")
			if tc.peer != "" {
				req.Header.Set(headerPeerName, tc.peer)
			}
			if tc.token != "" {
				req.Header.Set(headerPeerToken, tc.token)
			}
			resp, err := hsB.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			reached := onB.calls.Load() > before
			if reached != (tc.want == http.StatusOK) {
				t.Errorf("the call reached the handler: %v, want %v", reached, tc.want == http.StatusOK)
			}
		})
	}
}

// TestPeerCallsAreRefusedWithoutAHandler: a replica that serves no peer
// calls answers 404 even to a peer.
func TestPeerCallsAreRefusedWithoutAHandler(t *testing.T) {
	a, _, _, _ := peeredPair(t, &fakeClusters{}, peerCallToken)
	resp, err := a.CallPeer(t.Context(), "b", http.MethodGet, "/sessions/s-1/attach", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404", resp.StatusCode)
	}
}

// TestPeerCallsSendTheTokenOnlyToAVerifiedPeer: a peer whose certificate
// the caller cannot verify never gets the call, nor the token in it.
func TestPeerCallsSendTheTokenOnlyToAVerifiedPeer(t *testing.T) {
	_, b, _, hsB := peeredPair(t, &fakeClusters{}, peerCallToken)
	onB := &peerCallHandler{}
	b.HandlePeerCalls(onB)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	distrusting := NewServer(&fakeClusters{}, time.Hour)
	if err := distrusting.EnablePeering(ctx, PeerConfig{ReplicaName: "a", Token: []byte(peerCallToken), RootCAs: x509.NewCertPool(), ServerName: "example.com"}); err != nil {
		t.Fatal(err)
	}
	distrusting.SetPeers([]Peer{{Name: "b", Address: hsB.Listener.Addr().String()}})
	if _, err := distrusting.CallPeer(ctx, "b", http.MethodGet, "/sessions/s-1/attach", nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("calling a peer whose certificate is not trusted: %v, want a certificate error", err)
	}
	if n := onB.calls.Load(); n != 0 {
		t.Errorf("b's handler got %d calls from a caller that could not verify it", n)
	}
}
