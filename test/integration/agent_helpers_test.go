package integration

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/gorilla/websocket"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/tunnel"
)

// grantingAgent is an agent for cluster dev that grants whatever it is
// asked, holds exec streams open, and, like the real agent, cuts a
// request's streams when its grant is removed.
type grantingAgent struct {
	mu      sync.Mutex
	streams map[string][]*websocket.Conn
	// removed lists the requests whose grant was removed, in order.
	removed []string
	// onRemove runs as a grant is removed, before the agent answers.
	onRemove func(request string)
}

func (a *grantingAgent) api() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET "+tunnel.PathInfo, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.AgentInfo{Version: "test", KubernetesVersion: "v1.37.2", Namespaces: []string{"payments", "default"}})
	})
	api.HandleFunc("POST "+tunnel.PathReconcile, func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.ReconcileResult{})
	})
	api.HandleFunc("PUT "+tunnel.PathGrants+"{request}", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(tunnel.GrantStatus{Request: r.PathValue("request")})
	})
	api.HandleFunc("DELETE "+tunnel.PathGrants+"{request}", func(_ http.ResponseWriter, r *http.Request) {
		request := r.PathValue("request")
		a.mu.Lock()
		onRemove := a.onRemove
		a.mu.Unlock()
		if onRemove != nil {
			onRemove(request)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.removed = append(a.removed, request)
		for _, conn := range a.streams[request] {
			conn.Close()
		}
		delete(a.streams, request)
	})
	api.HandleFunc("GET "+tunnel.PathExec+"{request}/{namespace}/{pod}", func(w http.ResponseWriter, r *http.Request) {
		upgrader := websocket.Upgrader{Subprotocols: []string{execProtocol}}
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		request := r.PathValue("request")
		a.mu.Lock()
		if a.streams == nil {
			a.streams = map[string][]*websocket.Conn{}
		}
		a.streams[request] = append(a.streams[request], conn)
		a.mu.Unlock()
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if len(data) > 0 && data[0] == channelStdin {
				if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, data[1:]...)); err != nil {
					return
				}
			}
		}
	})
	return api
}

func (a *grantingAgent) removals(request string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, r := range a.removed {
		if r == request {
			n++
		}
	}
	return n
}

// connect runs the agent through the real tunnel until the test ends or
// the returned stop is called. Stopping waits until the server recorded
// the disconnection, so that it is not shut down in the middle of that.
func (a *grantingAgent) connect(t *testing.T, e *env) (stop func()) {
	t.Helper()
	disconnect := runAgent(t, e, "dev", a.api())
	var once sync.Once
	stop = func() {
		once.Do(func() {
			disconnect()
			waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool { return !c.Status.Agent.Connected })
		})
	}
	t.Cleanup(stop)
	waitForCluster(t, e, "dev", func(c *v1alpha1.Cluster) bool { return c.Status.Agent.Connected })
	return stop
}
