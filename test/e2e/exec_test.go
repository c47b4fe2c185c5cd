package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// execDeadline bounds a test's exec session. It coincides with no limit
// of the product (the stream handshake's 30 s, the 30 s that cut every
// session once), so that a cut never looks like the test's own timeout.
const execDeadline = 45 * time.Second

func TestExecRunsCommandInGrantedPod(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	out, errOut, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "echo", "janus-exec-ok")
	if err != nil {
		t.Fatalf("exec through Janus: %v (stderr %q)", err, errOut)
	}
	if strings.TrimSpace(out) != "janus-exec-ok" {
		t.Errorf("stdout = %q, want janus-exec-ok", out)
	}
	// The session is on the record, with who, where, what and how much.
	eventually(t, "the session is recorded as a Session", func() error {
		sessions, err := requestSessions(t, ar.Name)
		if err != nil {
			return err
		}
		if len(sessions) != 1 {
			return fmt.Errorf("sessions = %+v, want one", sessions)
		}
		s := sessions[0]
		if s.Spec.User.Username != "alice" || s.Spec.User.UID == "" || s.Spec.Cluster != ar.Spec.Cluster || s.Spec.Namespace != "payments" ||
			s.Spec.Pod != "payments-api-0" || strings.Join(s.Spec.Command, " ") != "echo janus-exec-ok" || s.Labels[requestLabel] != ar.Name {
			return fmt.Errorf("session %+v does not describe alice's echo in payments-api-0", s)
		}
		if s.Status.Phase != v1alpha1.SessionClosed || s.Status.EndedAt == nil || s.Status.BytesOut == 0 || s.Status.EndReason == "" || s.Status.Server == "" {
			return fmt.Errorf("session %+v is not closed with its byte count, reason and replica", s.Status)
		}
		if r := s.Status.Recording; r == nil || r.Format != "asciicast-v2" || len(r.SHA256) != 64 || r.Size == 0 || r.Location == "" {
			return fmt.Errorf("session's recording %+v, want a sealed asciicast with its digest", r)
		}
		got, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ActiveSessions != 0 || got.Status.TotalSessions != 1 {
			return fmt.Errorf("the request counts %d active and %d sessions in all, want 0 and 1", got.Status.ActiveSessions, got.Status.TotalSessions)
		}
		return nil
	})
}

// TestExecRefusals: only the requester, only while Active, only in the
// request's namespaces; each refusal says why.
func TestExecRefusals(t *testing.T) {
	t.Parallel()
	active := activeRequest(t, time.Hour, "payments")
	pending := newRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	cases := []struct {
		name, user, request, namespace, pod, why string
	}{
		{"another user", "bob", active.Name, "payments", "payments-api-0", "only the requester"},
		{"a namespace not granted", "alice", active.Name, "default", "web-0", "not granted"},
		{"before approval", "alice", pending.Name, "payments", "payments-api-0", "Pending"},
		{"a user without the exec permission", "dave", active.Name, "payments", "payments-api-0", "forbidden"},
	}
	for _, tc := range cases {
		_, _, err := execAs(ctx, t, tc.user, tc.request, tc.namespace, tc.pod, "echo", "should-not-run")
		if err == nil {
			t.Errorf("%s: exec succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.why) && !strings.Contains(strings.ToLower(err.Error()), tc.why) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.why)
		}
	}
}

// TestRevokeCutsOpenSession: a running session ends soon after the
// request is revoked; the test measures how soon.
func TestRevokeCutsOpenSession(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)
	if _, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: "e2e cut"}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	select {
	case res := <-done:
		took := time.Since(revoked)
		t.Logf("session ended %s after the revocation (err: %v)", took.Round(time.Millisecond), res.err)
		if took > cutBound {
			t.Errorf("the session outlived the revocation by %s, want at most %s", took.Round(time.Millisecond), cutBound)
		}
		if res.err == nil || !strings.Contains(res.err.Error(), "access revoked by carol: e2e cut") {
			t.Errorf("exit error %v does not say the access was revoked by carol", res.err)
		}
		if !strings.Contains(res.stderr, "janus: access revoked by carol: e2e cut") {
			t.Errorf("the terminal (stderr %q) does not say why the session ended", res.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the session was not cut within 30s of the revocation")
	}
}

// TestExpiryCutsOpenSession: at expiresAt the session ends, and says so.
func TestExpiryCutsOpenSession(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, 6*time.Second, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)
	select {
	case res := <-done:
		late := time.Since(ar.Status.ExpiresAt.Time)
		t.Logf("session ended %s after expiresAt (err: %v)", late.Round(time.Millisecond), res.err)
		if late < 0 || late > expiryBound {
			t.Errorf("session ended %s after expiresAt, want between 0 and %s", late.Round(time.Millisecond), expiryBound)
		}
		if res.err == nil || !strings.Contains(res.err.Error(), "access expired") {
			t.Errorf("exit error %v does not say the access expired", res.err)
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("the session was not cut at expiry")
	}
}

// TestOversizedMessageEndsSession: a user message over the limit closes
// the session instead of growing memory. client-go never sends one, so a
// raw websocket client does.
func TestOversizedMessageEndsSession(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	cfg, err := bed.RESTConfigFor("alice")
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": {"sleep", "20"}, "stdin": {"true"}, "stdout": {"true"}}
	u := strings.Replace(cfg.Host, "https://", "wss://", 1) + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + ar.Name + "/exec?" + q.Encode()
	dialer := websocket.Dialer{TLSClientConfig: tlsConfig, Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := dialer.Dial(u, http.Header{"Authorization": {"Bearer " + cfg.BearerToken}})
	if err != nil {
		t.Fatalf("opening the session: %v", err)
	}
	defer conn.Close()
	huge := append([]byte{0}, bytes.Repeat([]byte("x"), 1<<20)...)
	_ = conn.WriteMessage(websocket.BinaryMessage, huge)
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	eventually(t, "the session ends because of the oversized message", func() error {
		sessions, err := requestSessions(t, ar.Name)
		if err != nil {
			return err
		}
		for _, s := range sessions {
			if s.Status.EndedAt != nil && strings.Contains(s.Status.EndReason, "bytes") {
				return nil
			}
		}
		return fmt.Errorf("no session ended for the oversized message in %+v", sessions)
	})
}

type sessionResult struct {
	stderr string
	err    error
}

// openSession starts a long command (bounded: kwok never delivers stdin
// EOF, and a session that is not cut must still end) and returns once the
// agent relays it.
func openSession(ctx context.Context, t *testing.T, name string) <-chan sessionResult {
	t.Helper()
	done := make(chan sessionResult, 1)
	go func() {
		_, stderr, err := execAs(ctx, t, "alice", name, "payments", "payments-api-0", "sh", "-c", "echo started; sleep 40")
		done <- sessionResult{stderr: stderr, err: err}
	}()
	waitForSession(t, name)
	return done
}

// waitForSession waits until the agent relays a stream of the request:
// its log says so.
func waitForSession(t *testing.T, name string) {
	t.Helper()
	eventually(t, "the session is open", func() error {
		if strings.Contains(tailAgentLog(t), `"Stream" request="`+name+`"`) {
			return nil
		}
		return errors.New("no stream yet")
	})
}

func tailAgentLog(t *testing.T) string {
	t.Helper()
	for _, p := range bed.Processes() {
		if p.Name == "dev-janus-agent" {
			data, err := readFile(p.LogFile)
			if err != nil {
				t.Fatal(err)
			}
			return data
		}
	}
	t.Fatal("no agent process")
	return ""
}

func TestLogsStreamThroughJanus(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	client := janusAs(t, "alice").JanusV1alpha1().RESTClient()
	body, err := client.Get().Resource("accessrequests").Name(ar.Name).SubResource("log").
		Param("namespace", "payments").Param("pod", "payments-api-0").Param("container", "main").Stream(bg(t))
	if err != nil {
		t.Fatalf("reading logs through Janus: %v", err)
	}
	defer body.Close()
	buf := make([]byte, 4096)
	n, err := io.ReadAtLeast(body, buf, len("starting payments-api"))
	if err != nil {
		t.Fatalf("reading the log stream: %v", err)
	}
	if !strings.Contains(string(buf[:n]), "starting payments-api") {
		t.Errorf("logs = %q", buf[:n])
	}
	// Logs of a namespace that was not granted are refused.
	_, err = client.Get().Resource("accessrequests").Name(ar.Name).SubResource("log").
		Param("namespace", "default").Param("pod", "web-0").Stream(bg(t))
	if !apierrors.IsForbidden(err) {
		t.Errorf("logs of a namespace not granted: %v, want 403", err)
	}
}

// TestWithdrawCutsOpenSession: the requester withdrawing ends their own
// open session too, and it says so.
func TestWithdrawCutsOpenSession(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)
	if _, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(bg(t), ar.Name, &v1alpha1.Withdrawal{Reason: "fixed"}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	withdrawn := time.Now()
	select {
	case res := <-done:
		took := time.Since(withdrawn)
		t.Logf("session ended %s after the withdrawal", took.Round(time.Millisecond))
		if took > cutBound {
			t.Errorf("the session outlived the withdrawal by %s, want at most %s", took.Round(time.Millisecond), cutBound)
		}
		if res.err == nil || !strings.Contains(res.err.Error(), "access withdrawn by alice: fixed") {
			t.Errorf("exit error %v does not say the access was withdrawn", res.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the session was not cut within 30s of the withdrawal")
	}
}
