package health

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"k8s.io/component-base/metrics/legacyregistry"
	"k8s.io/klog/v2"
)

// Handler serves /healthz, /readyz and /metrics.
func Handler(t *Tunnel) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", tunnelCheck(t))
	mux.Handle("GET /readyz", tunnelCheck(t))
	mux.Handle("GET /metrics", legacyregistry.Handler())
	return mux
}

// tunnelCheck answers 200 while t is up and 503 with the reason while not.
func tunnelCheck(t *Tunnel) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		up, since, reason := t.State()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if !up {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "%s (since %s)\n", reason, since.UTC().Format(time.RFC3339))
			return
		}
		fmt.Fprintf(w, "ok: the tunnel to janus-apiserver is up since %s\n", since.UTC().Format(time.RFC3339))
	})
}

// Serve serves Handler(t) on address until ctx ends. It listens before it
// returns, so an address in use fails the start rather than the first probe.
func Serve(ctx context.Context, address string, t *Tunnel) error {
	l, err := net.Listen("tcp", address)
	if err != nil {
		return fmt.Errorf("listening on --health-bind-address %s: %w", address, err)
	}
	server := &http.Server{Handler: Handler(t), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = server.Close()
	}()
	go func() {
		if err := server.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			klog.ErrorS(err, "Health and metrics port stopped", "address", l.Addr().String())
		}
	}()
	klog.InfoS("Serving health and metrics", "address", l.Addr().String())
	return nil
}
