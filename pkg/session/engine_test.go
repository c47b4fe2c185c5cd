package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"
)

const protocolV5 = "v5.channel.k8s.io"

// fakeAgent is the agent's end of a stream: a real websocket server on a
// real connection, doing what the test tells it.
type fakeAgent struct {
	listener net.Listener
	// serve runs the command on the agent's websocket.
	serve func(conn *websocket.Conn)
	// paths are the request URIs the agent was asked for.
	mu        sync.Mutex
	paths     []string
	protocols []string
}

func newFakeAgent(t testing.TB, serve func(conn *websocket.Conn)) *fakeAgent {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{listener: l, serve: serve}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.paths = append(a.paths, r.URL.RequestURI())
		a.protocols = append(a.protocols, r.Header.Values("Sec-Websocket-Protocol")...)
		a.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/v1/log/") {
			w.Header().Set("Content-Type", "text/plain")
			for i := range 3000 {
				fmt.Fprintf(w, "log line %d\n", i)
			}
			return
		}
		if r.URL.Query().Get("refuse") != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure, Code: 403, Reason: metav1.StatusReasonForbidden, Message: "pods/exec is forbidden by the target"})
			return
		}
		up := websocket.Upgrader{Subprotocols: []string{protocolV5}}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		a.serve(conn)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return a
}

func (a *fakeAgent) OpenStream(ctx context.Context, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", a.listener.Addr().String())
}

// fakeObserver records what the engine tells it.
type fakeObserver struct {
	mu       sync.Mutex
	started  int
	startErr error
	ends     time.Time
	why      string
	summary  chan Summary
}

func newFakeObserver(ends time.Time) *fakeObserver {
	return &fakeObserver{ends: ends, summary: make(chan Summary, 1)}
}

func (o *fakeObserver) Started(context.Context) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.started++
	return o.startErr
}

func (o *fakeObserver) Ended(_ context.Context, s Summary) { o.summary <- s }

func (o *fakeObserver) AccessEnds(context.Context) (time.Time, string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ends, o.why
}

func (o *fakeObserver) end(why string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.why = why
}

func (o *fakeObserver) wait(t *testing.T) Summary {
	t.Helper()
	select {
	case s := <-o.summary:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("the session was not reported ended within 10s")
		return Summary{}
	}
}

// statusResponder writes an API error as the registry's responder does.
type statusResponder struct{ w http.ResponseWriter }

func (r statusResponder) Error(err error) {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	r.w.Header().Set("Content-Type", "application/json")
	r.w.WriteHeader(int(status.Status().Code))
	_ = json.NewEncoder(r.w).Encode(status.Status())
}

type engineUnderTest struct {
	engine *Engine
	url    string
	obs    *fakeObserver
}

func startEngine(t *testing.T, cfg Config, obs *fakeObserver, spec Spec) *engineUnderTest {
	t.Helper()
	e := New(cfg)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := spec
		s.Query = r.URL.RawQuery
		e.ServeExec(w, r, s, obs, statusResponder{w})
	}))
	t.Cleanup(srv.Close)
	return &engineUnderTest{engine: e, url: "ws" + strings.TrimPrefix(srv.URL, "http"), obs: obs}
}

func (u *engineUnderTest) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{Subprotocols: []string{protocolV5}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u.url+"/?"+query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("opening the session: %v (HTTP %d)", err, status)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func readChannel(t *testing.T, conn *websocket.Conn) (byte, string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("reading from the session: %v", err)
	}
	if len(data) == 0 {
		t.Fatal("an empty message")
	}
	return data[0], string(data[1:])
}

func expectChannel(t *testing.T, conn *websocket.Conn, channel byte, want string) {
	t.Helper()
	if c, got := readChannel(t, conn); c != channel || got != want {
		t.Fatalf("read %q on channel %d, want %q on channel %d", got, c, want, channel)
	}
}

// expectFailure reads the final Status and the close.
func expectFailure(t *testing.T, conn *websocket.Conn, message string) {
	t.Helper()
	c, payload := readChannel(t, conn)
	var status metav1.Status
	if err := json.Unmarshal([]byte(payload), &status); c != channelError || err != nil {
		t.Fatalf("read %q on channel %d, want a Status", payload, c)
	}
	if status.Status != metav1.StatusFailure || status.Message != message {
		t.Fatalf("status %+v, want a failure saying %q", status, message)
	}
	expectClose(t, conn, websocket.CloseNormalClosure)
}

func expectClose(t *testing.T, conn *websocket.Conn, code int) {
	t.Helper()
	_, _, err := conn.ReadMessage()
	var closeErr *websocket.CloseError
	if !errors.As(err, &closeErr) || closeErr.Code != code {
		t.Fatalf("the session did not close with %d: %v", code, err)
	}
}

func echoCommand(conn *websocket.Conn) {
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return
		}
		if len(data) > 0 && data[0] == 0 {
			if err := conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, data[1:]...)); err != nil {
				return
			}
		}
	}
}

func spec() Spec {
	return Spec{ID: "s1", Request: "req", Cluster: "dev", User: "alice", Path: "/v1/exec/req/payments/pod", NoticeChannel: channelStderr}
}

func TestCommandStatusEndsTheSessionAsTheCommandSaid(t *testing.T) {
	agent := newFakeAgent(t, func(conn *websocket.Conn) {
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, "hi\n"...))
		status, _ := json.Marshal(metav1.Status{Status: metav1.StatusSuccess})
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelError}, status...))
		_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	})
	obs := newFakeObserver(time.Now().Add(time.Hour))
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=echo")
	expectChannel(t, conn, channelStdout, "hi\n")
	c, payload := readChannel(t, conn)
	if c != channelError || !strings.Contains(payload, "Success") {
		t.Fatalf("read %q on %d, want the command's own Success", payload, c)
	}
	expectClose(t, conn, websocket.CloseNormalClosure)
	s := obs.wait(t)
	if s.Reason != "command ended" || s.Cause != EndCommand || s.Cut || s.BytesOut == 0 {
		t.Errorf("summary %+v, want the command's end, not a cut, with its output counted", s)
	}
}

func TestAgentGoneWithoutStatusIsAFailureThatSaysWhy(t *testing.T) {
	cases := []struct {
		name, why, want string
	}{
		{"the request ended", "access revoked by carol: done", "janus: access revoked by carol: done"},
		{"the connection broke", "", "janus: connection to the pod lost"},
		{"a reason with escape sequences", "access revoked by carol: \x1b]0;pwned\x07\x1b[2J", `janus: access revoked by carol: \x1b]0;pwned\x07\x1b[2J`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := newFakeObserver(time.Now().Add(time.Hour))
			agent := newFakeAgent(t, func(conn *websocket.Conn) {
				_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{channelStdout}, "started\n"...))
				_, _, _ = conn.ReadMessage() // the user says when
				obs.end(tc.why)
				conn.NetConn().Close()
			})
			u := startEngine(t, Config{Streams: agent}, obs, spec())
			conn := u.dial(t, "command=sh")
			expectChannel(t, conn, channelStdout, "started\n")
			_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'x'})
			expectChannel(t, conn, channelStderr, "\r\n"+tc.want+"\r\n")
			expectFailure(t, conn, tc.want)
			reason, cause := tc.why, EndAccessEnded
			if reason == "" {
				reason, cause = "connection to the pod lost", EndConnectionLost
			}
			if s := obs.wait(t); !s.Cut || s.Reason != reason || s.Cause != cause {
				t.Errorf("summary %+v, want a cut for %q", s, reason)
			}
		})
	}
}

func TestExpiryCutsTheSessionAndExtensionMovesIt(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Now())
	ends := clock.Now().Add(time.Hour)
	obs := newFakeObserver(ends)
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent, Clock: clock}, obs, spec())
	conn := u.dial(t, "command=cat")
	waitForTimers(t, clock)

	// Extended by an hour before the first expiry: the session lasts.
	obs.mu.Lock()
	obs.ends = ends.Add(time.Hour)
	obs.mu.Unlock()
	clock.Step(time.Hour)
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")

	obs.end("access expired at 2026-12-01T22:00:00Z")
	clock.Step(time.Hour)
	expectChannel(t, conn, channelStderr, "\r\njanus: access expired at 2026-12-01T22:00:00Z\r\n")
	expectFailure(t, conn, "janus: access expired at 2026-12-01T22:00:00Z")
	if s := obs.wait(t); !s.Cut || s.Reason != "access expired at 2026-12-01T22:00:00Z" || s.Cause != EndAccessEnded {
		t.Errorf("summary %+v", s)
	}
}

// waitForTimers waits until the relay armed its timers on clock.
func waitForTimers(t *testing.T, clock *testingclock.FakeClock) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !clock.HasWaiters() {
		if time.Now().After(deadline) {
			t.Fatal("the session armed no timer within 10s")
		}
		time.Sleep(time.Millisecond) // polling the fake clock's waiters
	}
}

func TestIdleSessionIsWarnedThenClosed(t *testing.T) {
	clock := testingclock.NewFakeClock(time.Now())
	obs := newFakeObserver(clock.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent, Clock: clock, IdleTimeout: 10 * time.Minute}, obs, spec())
	conn := u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")
	waitForTimers(t, clock)
	clock.Step(9 * time.Minute)
	expectChannel(t, conn, channelStderr, "\r\njanus: this session has been idle for 9m and will be closed in 1m\r\n")
	clock.Step(time.Minute)
	expectChannel(t, conn, channelStderr, "\r\njanus: session closed after 10m idle\r\n")
	expectFailure(t, conn, "janus: session closed after 10m idle")
	if s := obs.wait(t); s.Reason != "idle" || s.Cause != EndIdle || !s.Cut || s.BytesIn != 2 || s.BytesOut != 2 {
		t.Errorf("summary %+v, want idle with one byte each way (plus channel)", s)
	}
}

func TestUserClosingEndsTheSession(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	if s := obs.wait(t); s.Reason != "closed by the user" || s.Cause != EndUserClosed || s.Cut {
		t.Errorf("summary %+v", s)
	}
}

func TestOversizedUserMessageEndsTheSession(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, make([]byte, maxClientMessage)...))
	expectClose(t, conn, websocket.CloseMessageTooBig)
	if s := obs.wait(t); s.Reason != "the user sent a message over 65536 bytes" || s.Cause != EndLimit {
		t.Errorf("summary %+v", s)
	}
}

func TestSessionsOverTheLimitsAreRefusedWith429(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	cfg := Config{Streams: agent, MaxSessionsPerRequest: 2, MaxSessionsPerUser: 3}
	u := startEngine(t, cfg, obs, spec())
	first := u.dial(t, "command=cat")
	u.dial(t, "command=cat")
	d := websocket.Dialer{Subprotocols: []string{protocolV5}}
	_, resp, err := d.Dial(u.url+"/?command=cat", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third session under one request: %v, want 429", err)
	}
	var status metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&status)
	if !strings.Contains(status.Message, "--max-sessions-per-request") {
		t.Errorf("429 says %q, not which limit", status.Message)
	}
	// Closing one admits another.
	first.Close()
	obs.wait(t)
	deadline := time.Now().Add(10 * time.Second)
	for u.engine.OpenSessions() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions open after one closed", u.engine.OpenSessions())
		}
		time.Sleep(time.Millisecond) // polling the engine's count
	}
	u.dial(t, "command=cat")

	// The per-user bound counts sessions under every request.
	other := spec()
	other.Request = "other"
	if _, err := u.engine.reserve(other); err != nil {
		t.Fatalf("a third session of alice's under another request: %v", err)
	}
	if _, err := u.engine.reserve(other); err == nil || !strings.Contains(err.Error(), "--max-sessions-per-user") {
		t.Errorf("a fourth session of alice's: %v, want a 429 naming --max-sessions-per-user", err)
	}
}

func TestNonWebsocketExecIsRefused(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	resp, err := http.Post("http"+strings.TrimPrefix(u.url, "ws")+"/?command=sh", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var status metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&status)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(status.Message, "not SPDY") {
		t.Errorf("SPDY exec: %d %q, want 400 telling to use websockets", resp.StatusCode, status.Message)
	}
	if obs.started != 0 {
		t.Errorf("a refused session was recorded")
	}
}

func TestSessionThatCannotBeRecordedIsRefused(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	obs.startErr = errors.New("etcdserver: request timed out")
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	d := websocket.Dialer{Subprotocols: []string{protocolV5}, HandshakeTimeout: 10 * time.Second}
	conn, resp, err := d.Dial(u.url+"/?command=sh", nil)
	if err == nil {
		conn.Close()
		t.Fatal("a session whose record could not be written was opened")
	}
	if resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("got %v, want a 500 saying the session could not be recorded", err)
	}
	var status metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&status)
	if !strings.Contains(status.Message, "recording the session") {
		t.Errorf("message %q, want it to say the session could not be recorded", status.Message)
	}
	agent.mu.Lock()
	asked := len(agent.paths)
	agent.mu.Unlock()
	if asked != 0 {
		t.Errorf("the agent was asked to run %d streams of an unrecorded session", asked)
	}
	select {
	case s := <-obs.summary:
		t.Errorf("an unrecorded session was reported ended: %+v", s)
	default:
	}
}

func TestTargetRefusalReachesTheUser(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	d := websocket.Dialer{Subprotocols: []string{protocolV5}}
	_, resp, err := d.Dial(u.url+"/?refuse=1", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v, want the target's 403", err)
	}
	var status metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&status)
	if status.Message != "pods/exec is forbidden by the target" {
		t.Errorf("message %q", status.Message)
	}
	if s := obs.wait(t); !strings.HasPrefix(s.Reason, "refused") || s.Cause != EndRefused {
		t.Errorf("summary %+v", s)
	}
}

func TestCredentialsNeverPassAsProtocols(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	d := websocket.Dialer{Subprotocols: []string{"base64url.bearer.authorization.k8s.io.c2VjcmV0", protocolV5}}
	conn, _, err := d.Dial(u.url+"/?command=cat", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != protocolV5 {
		t.Errorf("negotiated %q", conn.Subprotocol())
	}
	agent.mu.Lock()
	defer agent.mu.Unlock()
	if strings.Join(agent.protocols, ",") != protocolV5 {
		t.Errorf("the agent was offered %q, want only %s", agent.protocols, protocolV5)
	}
}

// TestLogStreamsWholeAfterExecSessions: log streams and exec sessions
// share the engine's buffers; a log read after busy sessions still reads
// the whole log.
func TestLogStreamsWholeAfterExecSessions(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=cat")
	for range 20 {
		_ = conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, make([]byte, 40<<10)...))
		if c, got := readChannel(t, conn); c != channelStdout || len(got) != 40<<10 {
			t.Fatalf("echo of 40 KiB: %d bytes on channel %d", len(got), c)
		}
	}
	conn.Close()
	obs.wait(t)

	logs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.engine.ServeLog(w, r, "dev", "/v1/log/req/payments/pod", "container=main", statusResponder{w})
	}))
	defer logs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, logs.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the log: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 3000 || lines[2999] != "log line 2999" {
		t.Errorf("read %d lines, last %q; want 3000", len(lines), lines[len(lines)-1])
	}
}

func TestSuspendCutsEverySessionAndRefusesNewOnesUntilResume(t *testing.T) {
	obs := newFakeObserver(time.Now().Add(time.Hour))
	agent := newFakeAgent(t, echoCommand)
	u := startEngine(t, Config{Streams: agent}, obs, spec())
	conn := u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'a'})
	expectChannel(t, conn, channelStdout, "a")

	const why = "janus-apiserver replica janus-a could not renew its heartbeat Lease for 30s"
	if n := u.engine.Suspend(why); n != 1 {
		t.Errorf("Suspend cut %d sessions, want 1", n)
	}
	expectChannel(t, conn, channelStderr, "\r\njanus: "+why+"\r\n")
	expectFailure(t, conn, "janus: "+why)
	if s := obs.wait(t); !s.Cut || s.Reason != why || s.Cause != EndReplicaSuspended {
		t.Errorf("summary %+v, want a cut for the suspension", s)
	}

	d := websocket.Dialer{Subprotocols: []string{protocolV5}, HandshakeTimeout: 10 * time.Second}
	_, resp, err := d.Dial(u.url+"/?command=cat", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a session while suspended: %v, want 503", err)
	}
	var status metav1.Status
	_ = json.NewDecoder(resp.Body).Decode(&status)
	if status.Message != why {
		t.Errorf("503 says %q, want %q", status.Message, why)
	}

	u.engine.Resume()
	conn = u.dial(t, "command=cat")
	_ = conn.WriteMessage(websocket.BinaryMessage, []byte{0, 'b'})
	expectChannel(t, conn, channelStdout, "b")
}
