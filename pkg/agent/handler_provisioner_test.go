package agent

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// lockedBuffer is written by klog and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// captureLogs sends klog's output to a buffer until the test ends.
func captureLogs(t *testing.T) *lockedBuffer {
	logs := &lockedBuffer{}
	klog.LogToStderr(false)
	klog.SetOutput(logs)
	t.Cleanup(func() {
		klog.Flush()
		klog.LogToStderr(true)
		klog.SetOutput(io.Discard)
	})
	return logs
}

func TestGrantTokenNeverLeavesTheAgent(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	p, agentNS := newTestProvisioner(t, ctx, c)
	payments := newNamespace(t, ctx, c.Admin, "payments")
	request := newRequestName("alice")
	removeOnCleanup(t, c, agentNS, request)
	logs := captureLogs(t)
	server := httptest.NewServer(NewHandler(p))
	defer server.Close()

	var answers []string
	call := func(method, path string, body any, wantStatus int) {
		t.Helper()
		var in io.Reader
		if body != nil {
			data, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			in = bytes.NewReader(data)
		}
		req, err := http.NewRequestWithContext(ctx, method, server.URL+path, in)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := server.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, out, wantStatus)
		}
		answers = append(answers, string(out))
	}

	spec := grantSpec(request, payments)
	call(http.MethodPut, tunnel.PathGrants+request, spec, http.StatusOK)
	token, ok := p.Token(request)
	if !ok {
		t.Fatal("no token after PUT")
	}
	spec.ExpiresAt = time.Now().Add(2 * time.Hour)
	call(http.MethodPut, tunnel.PathGrants+request, spec, http.StatusOK)
	refreshed, _ := p.Token(request)
	call(http.MethodGet, tunnel.PathInfo, nil, http.StatusOK)
	call(http.MethodPost, tunnel.PathReconcile, tunnel.ReconcileRequest{Active: []tunnel.GrantSpec{spec}}, http.StatusOK)
	reconciled, _ := p.Token(request)
	call(http.MethodPut, tunnel.PathGrants+request, grantSpec(request, "kube-system"), http.StatusUnprocessableEntity)
	call(http.MethodDelete, tunnel.PathGrants+request, nil, http.StatusNoContent)
	klog.Flush()

	if !strings.Contains(logs.String(), `"Granted"`) {
		t.Fatalf("the logs were not captured: %q", logs.String())
	}
	for _, tok := range []string{token, refreshed, reconciled} {
		// Neither the whole token nor its signature may appear anywhere.
		parts := strings.Split(tok, ".")
		for _, answer := range answers {
			if strings.Contains(answer, tok) || strings.Contains(answer, parts[2]) {
				t.Errorf("an answer of the agent API holds the token: %s", answer)
			}
		}
		if strings.Contains(logs.String(), parts[2]) {
			t.Error("the agent logged the token")
		}
	}
}
