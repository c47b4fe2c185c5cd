package pages

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
	"github.com/infroware/janus/web"
)

// sessionsAPI stands in for Janus's sessions subresources: attach sends
// a line, then waits for next before sending the second; recording of
// "secret" is refused with a 403 Status.
func sessionsAPI(t *testing.T, next <-chan struct{}) *httptest.Server {
	t.Helper()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/apis/janus.infroware.io/v1alpha1/sessions/s1/attach":
			if got := r.Header.Get("Impersonate-User"); got != "carol" {
				t.Errorf("the follow stream was read as %q, want carol", got)
			}
			w.Header().Set("Content-Type", asciicastType)
			_, _ = io.WriteString(w, `{"version":2,"width":80,"height":24}`+"\n")
			w.(http.Flusher).Flush()
			<-next
			_, _ = io.WriteString(w, `[0.5,"o","later\r\n"]`+"\n")
		case "/apis/janus.infroware.io/v1alpha1/sessions/secret/recording":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"sessions.janus.infroware.io \"secret\" is forbidden: User \"carol\" cannot get resource \"sessions/recording\"","reason":"Forbidden","code":403}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

func relayingConsole(t *testing.T, api *httptest.Server) *httptest.Server {
	t.Helper()
	factory := kubeclient.NewFactory(&rest.Config{Host: api.URL})
	h, err := New(web.FS, factory.For, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(signin.WithIdentity(r.Context(), signin.Identity{Username: "carol"})))
		})
	})
	console := httptest.NewServer(mux)
	t.Cleanup(console.Close)
	return console
}

// TestFollowStreamRelaysEachLineAsItComes: the console passes the
// attach subresource's first line on before the second exists, as the
// person, with the asciicast type.
func TestFollowStreamRelaysEachLineAsItComes(t *testing.T) {
	next := make(chan struct{})
	console := relayingConsole(t, sessionsAPI(t, next))
	res, err := http.Get(console.URL + "/sessions/s1/follow/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != asciicastType {
		t.Fatalf("the stream answered %s, %q", res.Status, res.Header.Get("Content-Type"))
	}
	lines := bufio.NewReader(res.Body)
	first := make(chan string, 1)
	go func() { l, _ := lines.ReadString('\n'); first <- l }()
	select {
	case l := <-first:
		if !strings.HasPrefix(l, `{"version":2`) {
			t.Errorf("the first line is %q, want the header", l)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the header did not come through before the next event was written")
	}
	close(next)
	if l, _ := lines.ReadString('\n'); l != `[0.5,"o","later\r\n"]`+"\n" {
		t.Errorf("the second line is %q", l)
	}
}

// TestRecordingRefusalIsTheAPIsStatus: a refused recording reaches the
// page's script as the API's code, reason and message.
func TestRecordingRefusalIsTheAPIsStatus(t *testing.T) {
	console := relayingConsole(t, sessionsAPI(t, nil))
	res, err := http.Get(console.URL + "/sessions/secret/recording")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"reason":"Forbidden"`) || !strings.Contains(string(body), `cannot get resource \"sessions/recording\"`) {
		t.Errorf("a refused recording answers %s %s, want the API's 403", res.Status, body)
	}
}
