package connector

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rancher/remotedialer"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// Config says where and as whom the agent connects.
type Config struct {
	// URL of janus-apiserver, https://host:port.
	URL string
	// Cluster is the name of the Cluster this agent serves.
	Cluster string
	// TokenFile holds the projected ServiceAccount token; it is re-read on
	// every connection because the kubelet rotates it.
	TokenFile string
	// TLSConfig trusts janus-apiserver's serving certificate.
	TLSConfig *tls.Config
	// OnConnect, if set, is called each time a tunnel is up.
	OnConnect func()
	// OnDown, if set, is called with the reason each time a tunnel went
	// down or could not be opened.
	OnDown func(err error)
}

// Run serves handler through the tunnel until ctx ends. It reconnects
// after every failure with exponential backoff (0.5s doubling to 30s) and
// jitter, so a fleet of agents does not reconnect in lockstep; a tunnel
// that came up resets the backoff, so a restarted server is found again
// within about a second.
func Run(ctx context.Context, cfg Config, handler http.Handler) error {
	wsURL, err := connectURL(cfg.URL)
	if err != nil {
		return err
	}
	listener := newPipeListener()
	defer listener.Close()
	streams, err := newStreamDialer(cfg, listener)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+tunnel.PathStreams, streams)
	mux.Handle("/", handler)
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) }}
	go func() { _ = server.Serve(listener) }()
	defer server.Close()

	dialer := &websocket.Dialer{TLSClientConfig: cfg.TLSConfig, HandshakeTimeout: 10 * time.Second}
	// Only the in-memory API may be dialled through the tunnel.
	onlyAgentAPI := func(proto, address string) bool { return proto == "tcp" && address == tunnel.AgentAddress }
	backoff := newBackoff()
	for ctx.Err() == nil {
		token, err := os.ReadFile(cfg.TokenFile)
		if err != nil {
			klog.ErrorS(err, "Reading agent token", "file", cfg.TokenFile)
			cfg.down(fmt.Errorf("reading the agent token: %w", err))
		} else {
			headers := http.Header{}
			headers.Set(tunnel.HeaderCluster, cfg.Cluster)
			headers.Set(tunnel.HeaderAgentToken, strings.TrimSpace(string(token)))
			var connected atomic.Bool
			// Janus closes a tunnel when its token expires; reconnect with
			// the kubelet's rotated token before then. Open streams have
			// connections of their own and live on.
			tunnelCtx, endTunnel := context.WithCancel(ctx)
			stopRefresh := func() bool { return false }
			if refresh, ok := refreshTime(strings.TrimSpace(string(token)), time.Now()); ok {
				stopRefresh = time.AfterFunc(time.Until(refresh), func() {
					klog.InfoS("Reconnecting before the agent's token expires", "cluster", cfg.Cluster)
					endTunnel()
				}).Stop
			}
			err = remotedialer.ConnectToProxyWithDialer(tunnelCtx, wsURL, headers, onlyAgentAPI, dialer, listener.dial,
				func(context.Context, *remotedialer.Session) error {
					connected.Store(true)
					klog.InfoS("Tunnel up", "cluster", cfg.Cluster, "url", cfg.URL)
					if cfg.OnConnect != nil {
						cfg.OnConnect()
					}
					return nil
				})
			stopRefresh()
			endTunnel()
			if connected.Load() {
				backoff = newBackoff()
			}
			if ctx.Err() != nil {
				break
			}
			klog.InfoS("Tunnel down", "cluster", cfg.Cluster, "err", err)
			if err == nil {
				err = errors.New("the tunnel closed")
			}
			cfg.down(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff.Step()):
		}
	}
	return nil
}

func (cfg *Config) down(err error) {
	if cfg.OnDown != nil {
		cfg.OnDown(err)
	}
}

type connKey struct{}

// ConnFrom returns the tunnel connection a request of the agent API came
// in on; closing it ends that request's stream at once.
func ConnFrom(ctx context.Context) (net.Conn, bool) {
	c, ok := ctx.Value(connKey{}).(net.Conn)
	return c, ok
}

func newBackoff() *wait.Backoff {
	return &wait.Backoff{Duration: 500 * time.Millisecond, Factor: 2, Jitter: 0.5, Steps: 1 << 30, Cap: 30 * time.Second}
}

func connectURL(base string) (string, error) {
	switch {
	case strings.HasPrefix(base, "https://"):
		return "wss://" + strings.TrimSuffix(strings.TrimPrefix(base, "https://"), "/") + tunnel.ConnectPath, nil
	case strings.HasPrefix(base, "http://"):
		return "", errors.New("refusing a plain-http Janus URL: the agent's token must not travel unencrypted")
	}
	return "", fmt.Errorf("janus URL %q must start with https://", base)
}

// refreshTime is when a tunnel opened with token should be reopened: when
// nine tenths of the token's life are gone (the kubelet rotates a
// projected token at eight tenths). ok is false for a token without exp
// and iat, or one already past that point (a token file nobody rotates:
// reconnecting would only bring the same token back).
func refreshTime(token string, now time.Time) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
		Iat int64 `json:"iat"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 || claims.Iat == 0 || claims.Exp <= claims.Iat {
		return time.Time{}, false
	}
	iat, exp := time.Unix(claims.Iat, 0), time.Unix(claims.Exp, 0)
	at := iat.Add(exp.Sub(iat) * 9 / 10)
	return at, at.After(now)
}
