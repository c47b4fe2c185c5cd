package health

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/component-base/metrics/testutil"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHealthFollowsTheTunnel(t *testing.T) {
	tun := NewTunnel()
	h := Handler(tun)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, h, path); code != http.StatusServiceUnavailable || !strings.Contains(body, "has not opened yet") {
			t.Errorf("before the first tunnel %s answered %d %q, want 503 saying it has not opened", path, code, body)
		}
	}
	tun.Up()
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, h, path); code != http.StatusOK {
			t.Errorf("with the tunnel up %s answered %d %q, want 200", path, code, body)
		}
	}
	tun.Down(errors.New("websocket: close 1006 (abnormal closure)"))
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := get(t, h, path); code != http.StatusServiceUnavailable || !strings.Contains(body, "abnormal closure") {
			t.Errorf("after the tunnel dropped %s answered %d %q, want 503 with the reason", path, code, body)
		}
	}
	tun.Up()
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("after the tunnel came back /healthz answered %d, want 200", code)
	}
}

func TestMetricsShowTheTunnel(t *testing.T) {
	before, err := testutil.GetCounterMetricValue(tunnelReconnects)
	if err != nil {
		t.Fatal(err)
	}
	tun := NewTunnel()
	h := Handler(tun)
	tun.Up()
	tun.Down(nil)
	tun.Up()
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics answered %d", code)
	}
	if !strings.Contains(body, "janus_agent_tunnel_connected 1") {
		t.Errorf("/metrics lacks janus_agent_tunnel_connected 1:\n%s", body)
	}
	want := fmt.Sprintf("janus_agent_tunnel_reconnects_total %v", before+1)
	if !strings.Contains(body, want) {
		t.Errorf("/metrics lacks %q: the second tunnel is the one reconnect", want)
	}
	tun.Down(errors.New("gone"))
	if _, body := get(t, h, "/metrics"); !strings.Contains(body, "janus_agent_tunnel_connected 0") {
		t.Errorf("/metrics lacks janus_agent_tunnel_connected 0 once the tunnel dropped")
	}
}
