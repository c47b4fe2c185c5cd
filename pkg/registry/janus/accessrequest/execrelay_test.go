package accessrequest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/events"
)

const execProtocol = "v5.channel.k8s.io"

// fakeAgent stands in for the agent's exec endpoint: it echoes stdin on
// stdout, says what the test tells it to, and hangs up when told to.
type fakeAgent struct {
	// stdin receives what the user sent on channel 0.
	stdin chan string
	// say is written to the user as it is.
	say chan []byte
	// hangUp ends the command, as an exit would.
	hangUp chan struct{}
	// gone is closed when Janus's connection to the agent ends.
	gone chan struct{}
}

func newFakeAgent() *fakeAgent {
	return &fakeAgent{stdin: make(chan string, 16), say: make(chan []byte, 16), hangUp: make(chan struct{}), gone: make(chan struct{})}
}

func (a *fakeAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	upgrader := websocket.Upgrader{Subprotocols: []string{execProtocol}}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(a.gone)
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if len(data) > 0 && data[0] == 0 {
				a.stdin <- string(data[1:])
				a.say <- append([]byte{channelStdout}, data[1:]...)
			}
		}
	}()
	for {
		select {
		case data := <-a.say:
			if err := conn.WriteMessage(websocket.BinaryMessage, data); err != nil {
				return
			}
		case <-a.hangUp:
			_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			<-readerDone
			return
		case <-readerDone:
			return
		}
	}
}

// memoryRequests holds one AccessRequest for the relay to read and record
// sessions in.
type memoryRequests struct {
	mu sync.Mutex
	ar *janus.AccessRequest
}

func (m *memoryRequests) Get(_ context.Context, _ string, _ *metav1.GetOptions) (runtime.Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ar.DeepCopy(), nil
}

func (m *memoryRequests) Update(ctx context.Context, _ string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, _ rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	obj, err := objInfo.UpdatedObject(ctx, m.ar.DeepCopy())
	if err != nil {
		return nil, false, err
	}
	m.ar = obj.(*janus.AccessRequest)
	return m.ar.DeepCopy(), false, nil
}

func (m *memoryRequests) sessions() []janus.Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]janus.Session(nil), m.ar.Status.Sessions...)
}

// relayUnderTest is a websocketRelay between a user's websocket and a
// fake agent, on a fake clock.
type relayUnderTest struct {
	user     *websocket.Conn
	agent    *fakeAgent
	clock    *testingclock.FakeClock
	recorder *record.FakeRecorder
	requests *memoryRequests
}

func startRelay(t *testing.T, idleTimeout time.Duration, noticeChannel byte) *relayUnderTest {
	t.Helper()
	agent := newFakeAgent()
	agentServer := httptest.NewServer(agent)
	t.Cleanup(agentServer.Close)
	location, err := url.Parse(agentServer.URL + "/v1/exec/req-1/payments/payments-api-0?command=sh")
	if err != nil {
		t.Fatal(err)
	}
	ar := &janus.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-1", UID: "uid-req-1"},
		Status:     janus.AccessRequestStatus{Phase: janus.AccessRequestActive},
	}
	rt := &relayUnderTest{
		agent:    agent,
		clock:    testingclock.NewFakeClock(time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)),
		recorder: record.NewFakeRecorder(16),
		requests: &memoryRequests{ar: ar},
	}
	relay := &websocketRelay{
		ctx:       context.Background(),
		store:     rt.requests,
		sessions:  sessionRecorder{store: rt.requests},
		recorder:  rt.recorder,
		location:  location,
		transport: &http.Transport{},
		request:   ar.Name,
		ref:       events.Ref(ar),
		session: janus.Session{
			ID: "s1", User: "alice", Namespace: "payments", Pod: "payments-api-0", Command: []string{"sh"}, StartedAt: metav1.Now(),
		},
		noticeChannel: noticeChannel,
		idleTimeout:   idleTimeout,
		clock:         rt.clock,
	}
	relayServer := httptest.NewServer(relay)
	t.Cleanup(relayServer.Close)
	dialer := websocket.Dialer{Subprotocols: []string{execProtocol}, HandshakeTimeout: 10 * time.Second}
	user, _, err := dialer.Dial(strings.Replace(relayServer.URL, "http://", "ws://", 1), nil)
	if err != nil {
		t.Fatalf("opening the session: %v", err)
	}
	t.Cleanup(func() { user.Close() })
	rt.user = user
	rt.expectEvent(t, "Normal SessionStarted alice exec payments/payments-api-0: sh")
	return rt
}

// next is the next message the user reads: its channel and payload.
func (rt *relayUnderTest) next(t *testing.T) (byte, string) {
	t.Helper()
	_ = rt.user.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := rt.user.ReadMessage()
	if err != nil {
		t.Fatalf("reading the session: %v", err)
	}
	if len(data) == 0 {
		t.Fatalf("an empty message has no channel")
	}
	return data[0], string(data[1:])
}

func (rt *relayUnderTest) expect(t *testing.T, channel byte, payload string) {
	t.Helper()
	gotChannel, got := rt.next(t)
	if gotChannel != channel || got != payload {
		t.Fatalf("the user read %q on channel %d, want %q on channel %d", got, gotChannel, payload, channel)
	}
}

func (rt *relayUnderTest) typeLine(t *testing.T, line string) {
	t.Helper()
	if err := rt.user.WriteMessage(websocket.BinaryMessage, append([]byte{0}, line...)); err != nil {
		t.Fatalf("writing stdin: %v", err)
	}
	rt.expect(t, channelStdout, line)
}

// expectEnd checks that the user reads a close and that the session ended.
func (rt *relayUnderTest) expectEnd(t *testing.T) {
	t.Helper()
	_ = rt.user.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := rt.user.ReadMessage()
	var closeErr *websocket.CloseError
	if !errors.As(err, &closeErr) || closeErr.Code != websocket.CloseNormalClosure {
		t.Fatalf("the session was not closed normally: read %q, %v", data, err)
	}
	select {
	case <-rt.agent.gone:
	case <-time.After(10 * time.Second):
		t.Fatalf("the connection to the agent outlived the session")
	}
}

func (rt *relayUnderTest) expectEvent(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-rt.recorder.Events:
		if got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no event; want %q", want)
	}
}

func TestIdleSessionIsWarnedThenClosed(t *testing.T) {
	rt := startRelay(t, 15*time.Minute, channelStderr)
	warning := "\r\njanus: this session has been idle for 14m and will be closed in 1m\r\n"

	rt.clock.Step(14 * time.Minute)
	rt.expect(t, channelStderr, warning)

	// Typing re-arms the timer: the minute that was left passes without
	// a close, and the next thing the user reads is a new warning.
	rt.typeLine(t, "hi")
	rt.clock.Step(time.Minute)
	rt.clock.Step(13 * time.Minute)
	rt.expect(t, channelStderr, warning)

	// So does output.
	rt.agent.say <- append([]byte{channelStdout}, "tick"...)
	rt.expect(t, channelStdout, "tick")
	rt.clock.Step(14 * time.Minute)
	rt.expect(t, channelStderr, warning)

	rt.clock.Step(time.Minute)
	rt.expect(t, channelStderr, "\r\njanus: session closed after 15m idle\r\n")
	channel, payload := rt.next(t)
	var status metav1.Status
	if err := json.Unmarshal([]byte(payload), &status); channel != channelError || err != nil {
		t.Fatalf("read %q on channel %d, want a Status on channel %d", payload, channel, channelError)
	}
	if status.Status != metav1.StatusFailure || status.Reason != metav1.StatusReasonTimeout || status.Message != "janus: session closed after 15m idle" {
		t.Errorf("status = %+v, want a Timeout failure saying the session was idle", status)
	}
	rt.expectEnd(t)

	rt.expectEvent(t, "Normal SessionEnded alice exec payments/payments-api-0 ended after 43m, 3 B in, 8 B out: idle")
	sessions := rt.requests.sessions()
	if len(sessions) != 1 || sessions[0].EndReason != "idle" || sessions[0].EndedAt == nil || sessions[0].BytesIn != 3 || sessions[0].BytesOut != 8 {
		t.Errorf("sessions = %+v, want one ended as idle with 3 bytes in and 8 out", sessions)
	}
}

func TestIdleTimeoutZeroNeverClosesASession(t *testing.T) {
	rt := startRelay(t, 0, channelStderr)
	if rt.clock.HasWaiters() {
		t.Fatalf("a relay without an idle timeout armed a timer")
	}
	rt.clock.Step(30 * 24 * time.Hour)
	rt.typeLine(t, "still here")
	close(rt.agent.hangUp)
	rt.expectEnd(t)
	rt.expectEvent(t, "Normal SessionEnded alice exec payments/payments-api-0 ended after 720h, 11 B in, 11 B out: command ended")
}

// A terminal session has no stderr (kubectl exec -t asks for none), so the
// warning goes where the user reads: stdout.
func TestIdleWarningReachesATerminalOnStdout(t *testing.T) {
	rt := startRelay(t, 4*time.Second, noticeChannel(&janus.AccessRequestExecOptions{Stdin: true, Stdout: true, TTY: true}))
	rt.clock.Step(2 * time.Second)
	rt.expect(t, channelStdout, "\r\njanus: this session has been idle for 2s and will be closed in 2s\r\n")
	rt.clock.Step(2 * time.Second)
	rt.expect(t, channelStdout, "\r\njanus: session closed after 4s idle\r\n")
	if channel, _ := rt.next(t); channel != channelError {
		t.Fatalf("after the notice the user read channel %d, want the Status on %d", channel, channelError)
	}
	rt.expectEnd(t)
}

func TestUserClosingEndsTheSession(t *testing.T) {
	rt := startRelay(t, time.Hour, channelStderr)
	rt.typeLine(t, "exit")
	rt.clock.Step(12 * time.Second)
	_ = rt.user.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	rt.expectEvent(t, "Normal SessionEnded alice exec payments/payments-api-0 ended after 12s, 5 B in, 5 B out: closed by the user")
	if s := rt.requests.sessions(); len(s) != 1 || s[0].EndReason != "closed by the user" {
		t.Errorf("sessions = %+v, want one closed by the user", s)
	}
}

func TestIdleWarningAfter(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{15 * time.Minute, 14 * time.Minute},
		{2 * time.Minute, time.Minute},
		{119 * time.Second, 59500 * time.Millisecond},
		{4 * time.Second, 2 * time.Second},
	} {
		if got := idleWarningAfter(tc.timeout); got != tc.want {
			t.Errorf("idleWarningAfter(%s) = %s, want %s", tc.timeout, got, tc.want)
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Minute:                      "15m",
		time.Hour:                             "1h",
		90 * time.Minute:                      "1h30m",
		90 * time.Second:                      "1m30s",
		2 * time.Second:                       "2s",
		1500 * time.Millisecond:               "2s",
		500 * time.Millisecond:                "500ms",
		9425462 * time.Nanosecond:             "9ms",
		time.Hour + 10*time.Second:            "1h0m10s",
		12*time.Second + 400*time.Millisecond: "12s",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 3200: "3.2 kB", 50_000_000: "50.0 MB", 2_500_000_000: "2.5 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNoticeChannel(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts janus.AccessRequestExecOptions
		want byte
	}{
		{"stderr", janus.AccessRequestExecOptions{Stdout: true, Stderr: true}, channelStderr},
		{"terminal", janus.AccessRequestExecOptions{Stdin: true, Stdout: true, TTY: true}, channelStdout},
		{"neither", janus.AccessRequestExecOptions{Stdin: true}, 0},
	} {
		if got := noticeChannel(&tc.opts); got != tc.want {
			t.Errorf("%s: notices on channel %d, want %d", tc.name, got, tc.want)
		}
	}
}
