package kubectljanus

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// TestExecExitsWithTheRemoteExitCode runs exec against a server that
// speaks the v5 exec protocol as a kubelet does: it prints to stdout and
// reports exit code 3 on the error channel.
func TestExecExitsWithTheRemoteExitCode(t *testing.T) {
	var query map[string][]string
	upgrader := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/janus.infroware.io/v1alpha1/accessrequests/alice-x7k2p/exec" {
			http.NotFound(w, r)
			return
		}
		query = r.URL.Query()
		conn, err := upgrader.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		status, _ := json.Marshal(metav1.Status{
			Status: metav1.StatusFailure, Reason: "NonZeroExitCode",
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: "ExitCode", Message: "3"}}},
		})
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{1}, "hello\n"...))
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{3}, status...))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}))
	defer server.Close()

	var stdout, stderr bytes.Buffer
	o := NewOptions(genericiooptions.IOStreams{In: &bytes.Buffer{}, Out: &stdout, ErrOut: &stderr})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	namespace := "payments"
	o.ConfigFlags.KubeConfig, o.ConfigFlags.APIServer, o.ConfigFlags.Namespace = &kubeconfig, &server.URL, &namespace
	e := &execOptions{Options: o}
	if err := e.complete([]string{"alice-x7k2p", "api-0", "sh", "-c", "exit 3"}, 2); err != nil {
		t.Fatal(err)
	}

	err := e.run(context.Background())
	msg, code := errorMessage(err)
	if code != 3 || msg != "command terminated with exit code 3" {
		t.Errorf("exec ended with %q and exit code %d, want exit code 3 (err %v)", msg, code, err)
	}
	if stdout.String() != "hello\n" {
		t.Errorf("stdout %q, want the remote's hello", stdout.String())
	}
	want := map[string][]string{
		"namespace": {"payments"}, "pod": {"api-0"}, "command": {"sh", "-c", "exit 3"},
		"stdout": {"true"}, "stderr": {"true"},
	}
	if !reflect.DeepEqual(query, want) {
		t.Errorf("query %v, want %v", query, want)
	}
}
