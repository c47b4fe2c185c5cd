package live

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/signin"
)

// TestShutdownEndsStreams: a graceful shutdown need not wait for open
// streams, and refuses new ones.
func TestShutdownEndsStreams(t *testing.T) {
	// Nothing listens there: the stream keeps retrying the API until ended.
	factory := kubeclient.NewFactory(&rest.Config{Host: "http://127.0.0.1:1"})
	h := New(factory.For, Options{})
	signedIn := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(signin.WithIdentity(r.Context(), signin.Identity{Username: "alice"})))
		})
	}
	mux := http.NewServeMux()
	h.Register(mux, signedIn)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/live?scope=mine")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /live: %s", resp.Status)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry: ") {
		t.Fatalf("the stream starts with %q, %v; want its retry", line, err)
	}
	h.Shutdown()
	ended := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, r)
		ended <- err
	}()
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("the stream broke instead of ending: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the stream was still open 2s after Shutdown")
	}
	again, err := http.Get(srv.URL + "/live?scope=mine")
	if err != nil {
		t.Fatal(err)
	}
	again.Body.Close()
	if again.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a stream opened after Shutdown: %s, want 503", again.Status)
	}
}
