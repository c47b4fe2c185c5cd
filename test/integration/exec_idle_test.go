package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/pkg/agent/connector"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/test/integration/framework"
)

const (
	execProtocol  = "v5.channel.k8s.io"
	channelStdin  = 0
	channelStdout = 1
	channelStderr = 2
	channelError  = 3
)

// echoAgent connects an agent for cluster dev through the real tunnel. It
// grants whatever it is asked for and runs every exec as a command that
// echoes its stdin, so a session is as busy or as idle as the user makes
// it.
func echoAgent(t *testing.T, e *env) {
	t.Helper()
	(&grantingAgent{}).connect(t, e)
}

// runAgent makes cluster trust a fresh issuer for its agent and runs an
// agent serving api through the real tunnel with that issuer's token,
// until stop is called.
func runAgent(t *testing.T, e *env, cluster string, api http.Handler) (stop func()) {
	t.Helper()
	iss := newIssuer(t, "https://"+cluster+".example.com")
	c, err := e.admin.JanusV1alpha1().Clusters().Get(ctx(t), cluster, metav1.GetOptions{})
	mustSucceedCluster(t, err)
	c.Spec.Agent = v1alpha1.ClusterAgent{Issuer: iss.url, JWKS: iss.jwks(t), ServiceAccount: "janus/janus-agent"}
	_, err = e.admin.JanusV1alpha1().Clusters().UpdateAgent(ctx(t), c.Name, c, metav1.UpdateOptions{})
	mustSucceedCluster(t, err)

	tokenFile := t.TempDir() + "/token"
	writeFile(t, tokenFile, iss.token(t, "system:serviceaccount:janus:janus-agent", tunnel.Audience, time.Now().Add(time.Hour)))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.server.ServingCA())
	agentCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = connector.Run(agentCtx, connector.Config{URL: e.server.URL, Cluster: cluster, TokenFile: tokenFile, TLSConfig: &tls.Config{RootCAs: pool}}, api)
	}()
	return func() { cancel(); <-done }
}

// openExec opens an exec session as alice, the way the aggregator
// forwards it: front-proxy certificate and identity headers.
func openExec(t *testing.T, e *env, name string) *websocket.Conn {
	t.Helper()
	tlsConfig, err := rest.TLSConfigFor(e.server.Config(alice))
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": {"sh"}, "stdin": {"true"}, "stdout": {"true"}, "stderr": {"true"}}
	u := strings.Replace(e.server.URL, "https://", "wss://", 1) + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + name + "/exec?" + q.Encode()
	header := http.Header{"X-Remote-User": {alice.Name}, "X-Remote-Uid": {alice.UID}, "X-Remote-Group": alice.Groups}
	for k, vs := range alice.Extra {
		header["X-Remote-Extra-"+k] = vs
	}
	dialer := websocket.Dialer{TLSClientConfig: tlsConfig, Subprotocols: []string{execProtocol}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := dialer.Dial(u, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("opening the exec session (HTTP %d): %v", status, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// readFrame is the next message of the session: its channel and payload.
func readFrame(t *testing.T, conn *websocket.Conn) (byte, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("reading the session: %v", err)
	}
	if len(data) == 0 {
		t.Fatal("an empty message has no channel")
	}
	return data[0], string(data[1:])
}

func expectFrame(t *testing.T, conn *websocket.Conn, channel byte, payload string) {
	t.Helper()
	if gotChannel, got := readFrame(t, conn); gotChannel != channel || got != payload {
		t.Fatalf("read %q on channel %d, want %q on channel %d", got, gotChannel, payload, channel)
	}
}

// echo types a line and reads it back: a message in each direction.
func echo(t *testing.T, conn *websocket.Conn, line string) time.Time {
	t.Helper()
	if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdin}, line...)); err != nil {
		t.Fatalf("writing stdin: %v", err)
	}
	expectFrame(t, conn, channelStdout, line)
	return time.Now()
}

// TestIdleExecSessionIsWarnedThenClosed runs the real server with
// --idle-timeout=2s and an agent on the real tunnel: a session nobody
// types in is warned half way, typing starts the count again, and at the
// timeout the session is closed, says why, and is recorded as idle.
func TestIdleExecSessionIsWarnedThenClosed(t *testing.T) {
	const timeout = 2 * time.Second
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) { o.IdleTimeout = timeout })
	echoAgent(t, e)
	ar := create(t, e.alice, request("dev", time.Hour, "payments"))
	_, err := e.bob.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{Reason: "idle test"}, metav1.CreateOptions{})
	mustSucceed(t, "approving", ar, err)
	waitForRequest(t, e, ar.Name, 20*time.Second, func(ar *v1alpha1.AccessRequest) bool { return ar.Status.Phase == v1alpha1.AccessRequestActive })

	conn := openExec(t, e, ar.Name)
	warning := "\r\njanus: this session has been idle for 1s and will be closed in 1s\r\n"
	for range 2 {
		lastMessage := echo(t, conn, "hi")
		expectFrame(t, conn, channelStderr, warning)
		if idle := time.Since(lastMessage); idle < timeout/4 {
			t.Errorf("warned after %s idle, want about %s", idle, timeout/2)
		}
		// Typing after the warning keeps the session: the next thing
		// read is the echo, then a new warning, not the close.
	}
	lastMessage := echo(t, conn, "last words")
	expectFrame(t, conn, channelStderr, warning)
	expectFrame(t, conn, channelStderr, "\r\njanus: session closed after 2s idle\r\n")
	if idle := time.Since(lastMessage); idle < timeout/2 {
		t.Errorf("closed after %s idle, want about %s", idle, timeout)
	}
	channel, payload := readFrame(t, conn)
	var status metav1.Status
	if err := json.Unmarshal([]byte(payload), &status); channel != channelError || err != nil {
		t.Fatalf("read %q on channel %d, want a Status on channel %d", payload, channel, channelError)
	}
	if status.Status != metav1.StatusFailure || status.Message != "janus: session closed after 2s idle" {
		t.Errorf("status = %+v, want a failure saying the session was idle", status)
	}
	_, _, err = conn.ReadMessage()
	var closeErr *websocket.CloseError
	if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseNormalClosure {
		t.Errorf("after the status the session did not close normally: %v", err)
	}

	s := waitForClosedSession(t, e, ar.Name, 20*time.Second)
	if s.Status.EndReason != "idle" || s.Spec.User.Username != "alice" || s.Status.BytesIn != s.Status.BytesOut {
		t.Errorf("session %+v, want alice's, ended as idle, every byte echoed", s)
	}
}
