package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// streamAs runs command in payments/payments-api-0 through
// accessrequests/NAME/exec as user, as execAs does, but with the caller's
// streams, so that a test reads the output while the session runs. It
// reports failures instead of failing the test: it runs in goroutines.
func streamAs(ctx context.Context, user, name string, opts remotecommand.StreamOptions, command ...string) error {
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		return err
	}
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": command}
	if opts.Stdin != nil {
		q.Set("stdin", "true")
	}
	if opts.Stdout != nil {
		q.Set("stdout", "true")
	}
	if opts.Stderr != nil {
		q.Set("stderr", "true")
	}
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+execPrefix+name+"/exec?"+q.Encode())
	if err != nil {
		return fmt.Errorf("creating the executor: %w", err)
	}
	// The executor logs an error for a session ended by cancelling its
	// context, which is how these tests close theirs; the returned error
	// is what the tests judge.
	return executor.StreamWithContext(klog.NewContext(ctx, klog.Logger{}), opts)
}

// timedLine is a line of a session's output and when it arrived.
type timedLine struct {
	text string
	at   time.Time
}

// lineWriter hands every complete line written to it to lines, as it
// arrives.
type lineWriter struct {
	mu    sync.Mutex
	part  []byte
	lines chan<- timedLine
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines <- timedLine{text: strings.TrimSuffix(string(w.part[:i]), "\r"), at: time.Now()}
		w.part = w.part[i+1:]
	}
}

// sessionsOf is the request's status.sessions.
func sessionsOf(t *testing.T, name string) []v1alpha1.Session {
	t.Helper()
	sessions, err := requestSessions(t, name)
	if err != nil {
		t.Fatal(err)
	}
	return sessions
}

// assertNothingRecorded checks that no session of the request was
// recorded and that the agent relayed none.
func assertNothingRecorded(t *testing.T, name string) {
	t.Helper()
	if sessions := sessionsOf(t, name); len(sessions) != 0 {
		t.Errorf("Sessions %+v, want none", sessions)
	}
	if streams := agentStreams(t, name); len(streams) != 0 {
		t.Errorf("the agent relayed streams %v, want none", streams)
	}
}

// TestSessionLastsMinutes: a session stays open, and its output keeps
// coming line by line, for minutes; once every session was cut at 30 s.
func TestSessionLastsMinutes(t *testing.T) {
	t.Parallel()
	const (
		ticks = 40
		every = 5 * time.Second
		// The 40 ticks span 39 pauses, 3m15s.
		atLeast = 3 * time.Minute
	)
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	lines := make(chan timedLine, ticks+8)
	var stderr bytes.Buffer
	ended := make(chan error, 1)
	begin := time.Now()
	go func() {
		ended <- streamAs(ctx, "alice", ar.Name, remotecommand.StreamOptions{Stdout: &lineWriter{lines: lines}, Stderr: &stderr},
			"sh", "-c", fmt.Sprintf("for i in $(seq %d); do echo tick $i; sleep %d; done", ticks, int(every.Seconds())))
	}()

	var first, last time.Time
	got := 0
	take := func(l timedLine) {
		got++
		if want := fmt.Sprintf("tick %d", got); l.text != want {
			t.Fatalf("line %d is %q, want %q", got, l.text, want)
		}
		if got == 1 {
			first = l.at
		} else if gap := l.at.Sub(last); gap > 3*every {
			t.Errorf("tick %d came %s after tick %d: the output is not relayed as it comes", got, gap.Round(time.Millisecond), got-1)
		}
		last = l.at
	}
	var err error
reading:
	for {
		select {
		case l := <-lines:
			take(l)
		case err = <-ended:
			break reading
		}
	}
	// The executor returns once all the output is written.
	for len(lines) > 0 {
		take(<-lines)
	}
	took := time.Since(begin)
	t.Logf("%d ticks over %s; the session lasted %s (err: %v)", got, last.Sub(first).Round(time.Millisecond), took.Round(time.Millisecond), err)
	if err != nil {
		t.Fatalf("the session ended with %v after %d of %d ticks, %s in; the terminal said %q", err, got, ticks, took.Round(time.Millisecond), stderr.String())
	}
	if got != ticks {
		t.Errorf("%d ticks, want %d", got, ticks)
	}
	if span := last.Sub(first); span < atLeast {
		t.Errorf("ticks came for %s, want at least %s", span.Round(time.Millisecond), atLeast)
	}
	if strings.Contains(stderr.String(), "janus:") {
		t.Errorf("Janus spoke on the terminal of a session that ran its course: %q", stderr.String())
	}
	eventually(t, "the session is recorded as a command that ended after minutes", func() error {
		sessions := sessionsOf(t, ar.Name)
		if len(sessions) != 1 || sessions[0].Status.EndedAt == nil {
			return fmt.Errorf("sessions = %+v, want one, ended", sessions)
		}
		s := sessions[0].Status
		if s.EndReason != "command ended" {
			return fmt.Errorf("endReason %q, want %q", s.EndReason, "command ended")
		}
		if lasted := s.EndedAt.Sub(s.StartedAt.Time); lasted < atLeast {
			return fmt.Errorf("recorded as lasting %s, want at least %s", lasted, atLeast)
		}
		return nil
	})
}

// assertEndSaysWhy checks that a session ended as a failure that says
// why, in the exit error and on the terminal.
func assertEndSaysWhy(t *testing.T, res sessionResult, why string) {
	t.Helper()
	if res.err == nil || !strings.Contains(res.err.Error(), why) {
		t.Errorf("exit error %v, want a failure saying %q", res.err, why)
	}
	if line := "janus: " + why; !strings.Contains(res.stderr, line) {
		t.Errorf("the terminal (stderr %q) does not say %q", res.stderr, line)
	}
}

// TestSessionEndsSayWhy: a running session that Janus ends fails, and
// says why both in the error and on the terminal. The revocation is
// checked so by TestRevokeCutsOpenSession, the idle close by
// TestSessionEndsSayWhyWhenIdle.
func TestSessionEndsSayWhy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		duration time.Duration
		// end ends the access; nil waits for the expiry.
		end func(t *testing.T, name string)
		why func(ar *v1alpha1.AccessRequest) string
	}{
		{
			name: "withdraw", duration: time.Hour,
			end: func(t *testing.T, name string) {
				if _, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Withdraw(bg(t), name, &v1alpha1.Withdrawal{Reason: "fixed"}, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			},
			why: func(*v1alpha1.AccessRequest) string { return "access withdrawn by alice: fixed" },
		},
		{
			name: "expiry", duration: 6 * time.Second,
			why: func(ar *v1alpha1.AccessRequest) string {
				return "access expired at " + ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ar := activeRequest(t, tc.duration, "payments")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			done := openSession(ctx, t, ar.Name)
			if tc.end != nil {
				tc.end(t, ar.Name)
			}
			select {
			case res := <-done:
				assertEndSaysWhy(t, res, tc.why(ar))
			case <-time.After(40 * time.Second):
				t.Fatalf("the session was not cut within 40s")
			}
		})
	}
}

// spdyUpgrade sends the upgrade request of a SPDY client (kubectl before
// 1.30) as user and returns the answer's status and body.
func spdyUpgrade(t *testing.T, user, pathAndQuery string) (int, string) {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// An upgrade is HTTP/1.1.
	tlsConfig.NextProtos = []string{"http/1.1"}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConfig}, Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodPost, cfg.Host+pathAndQuery, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{
		"Authorization":             {"Bearer " + cfg.BearerToken},
		"Connection":                {"Upgrade"},
		"Upgrade":                   {"SPDY/3.1"},
		"X-Stream-Protocol-Version": {"v4.channel.k8s.io"},
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("sending a SPDY upgrade: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, string(body)
}

// TestSPDYExecIsRefused: a SPDY client is told to use websockets, and
// nothing is recorded or relayed.
func TestSPDYExecIsRefused(t *testing.T) {
	t.Parallel()
	const says = "accessrequests/exec speaks only the websocket protocol (v5.channel.k8s.io), not SPDY"
	ar := activeRequest(t, time.Hour, "payments")
	cfg, err := bed.RESTConfigFor("alice")
	if err != nil {
		t.Fatal(err)
	}
	pathAndQuery := execPrefix + ar.Name + "/exec?" + url.Values{
		"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": {"echo", "spdy"}, "stdout": {"true"}, "stderr": {"true"},
	}.Encode()
	u, err := url.Parse(cfg.Host + pathAndQuery)
	if err != nil {
		t.Fatal(err)
	}
	executor, err := remotecommand.NewSPDYExecutor(cfg, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err = executor.StreamWithContext(klog.NewContext(ctx, klog.Logger{}), remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr})
	t.Logf("the SPDY executor: %v", err)
	if err == nil || !strings.Contains(err.Error(), says) {
		t.Errorf("the SPDY executor got %v, want a failure saying %q", err, says)
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("a refused session printed stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	// The SPDY client folds the status into its message; the upgrade
	// request it sends, sent by hand, shows it.
	if status, body := spdyUpgrade(t, "alice", pathAndQuery); status != http.StatusBadRequest || !strings.Contains(body, says) {
		t.Errorf("a SPDY upgrade got HTTP %d: %s, want 400 saying %q", status, strings.TrimSpace(body), says)
	}
	assertNothingRecorded(t, ar.Name)
}

// agentStreamQuery is the query the agent sent the target for the one
// stream of subresource it relayed under request, from its log.
func agentStreamQuery(t *testing.T, request, subresource string) string {
	t.Helper()
	line := regexp.MustCompile(`"Stream" request="` + regexp.QuoteMeta(request) + `" subresource="` + subresource + `" namespace="payments" pod="payments-api-0" query="([^"]*)"`)
	var queries []string
	eventually(t, "the agent logs the "+subresource+" stream", func() error {
		queries = nil
		for _, m := range line.FindAllStringSubmatch(tailAgentLog(t), -1) {
			queries = append(queries, m[1])
		}
		if len(queries) == 0 {
			return fmt.Errorf("no %s stream of %s in the agent's log", subresource, request)
		}
		return nil
	})
	if len(queries) != 1 {
		t.Fatalf("the agent relayed %d %s streams of %s (%q), want one", len(queries), subresource, request, queries)
	}
	return queries[0]
}

// assertQueryIs checks the query that reached the target: exactly want,
// and none of the extra parameters the user sent.
func assertQueryIs(t *testing.T, what, got string, want url.Values, extras url.Values) {
	t.Helper()
	parsed, err := url.ParseQuery(got)
	if err != nil {
		t.Fatalf("the %s query %q the agent logged does not parse: %v", what, got, err)
	}
	for name := range extras {
		if _, ok := parsed[name]; ok {
			t.Errorf("the extra parameter %s reached the target in the %s query %q", name, what, got)
		}
	}
	if got != want.Encode() {
		t.Errorf("the %s query that reached the target is %q, want exactly %q", what, got, want.Encode())
	}
}

// TestLogQueryReachesTargetOnlyWithAllowedParameters: whatever a user adds
// to the query of accessrequests/log or exec, the target sees only the
// options Janus offers, as the agent's log of each stream shows.
func TestLogQueryReachesTargetOnlyWithAllowedParameters(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	// Real options of pods/log that Janus does not offer, and nonsense.
	extras := url.Values{
		"insecureSkipTLSVerifyBackend": {"true"},
		"sinceTime":                    {"2020-01-01T00:00:00Z"},
		"stream":                       {"Stderr"},
		"foo":                          {"bar"},
	}

	req := janusAs(t, "alice").JanusV1alpha1().RESTClient().Get().Resource("accessrequests").Name(ar.Name).SubResource("log").
		Param("namespace", "payments").Param("pod", "payments-api-0").Param("container", "main").Param("tailLines", "5")
	for name, values := range extras {
		req = req.Param(name, values[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	begin := time.Now()
	body, err := req.DoRaw(ctx)
	switch {
	case err != nil:
		// The query that reached the target is still checked below; the
		// target's own answer tells where the log stream stopped.
		t.Errorf("reading logs with extra parameters: %v after %s", err, time.Since(begin).Round(time.Millisecond))
		direct, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		begin = time.Now()
		out, err := devCluster(t).CoreV1().Pods("payments").GetLogs("payments-api-0", &corev1.PodLogOptions{Container: "main", TailLines: ptr.To[int64](5)}).DoRaw(direct)
		t.Logf("the target's own pods/log, as its admin, after %s: %q, %v", time.Since(begin).Round(time.Millisecond), out, err)
	case !strings.Contains(string(body), "starting payments-api"):
		t.Errorf("logs = %q, want the pod's log", body)
	}
	assertQueryIs(t, "log", agentStreamQuery(t, ar.Name, "log"), url.Values{"container": {"main"}, "tailLines": {"5"}}, extras)

	execExtras := url.Values{"foo": {"bar"}, "insecureSkipTLSVerifyBackend": {"true"}, "tailLines": {"5"}}
	q := url.Values{
		"namespace": {"payments"}, "pod": {"payments-api-0"}, "container": {"main"},
		"command": {"echo", "query-check"}, "stdout": {"true"}, "stderr": {"true"},
	}
	for name, values := range execExtras {
		q[name] = values
	}
	if res := rawExec(t, "alice", execPrefix+ar.Name+"/exec?"+q.Encode(), nil); res.status != http.StatusSwitchingProtocols || res.stdout != "query-check\n" {
		t.Fatalf("exec with extra parameters: %s, want it to run", res)
	}
	assertQueryIs(t, "exec", agentStreamQuery(t, ar.Name, "exec"), url.Values{
		"command": {"echo", "query-check"}, "container": {"main"}, "stderr": {"true"}, "stdout": {"true"},
	}, execExtras)
}

// heldSession is a long session kept open until the test closes it.
type heldSession struct {
	cancel context.CancelFunc
	// up is closed when the command's first output arrives.
	up chan struct{}
	// ended is closed when the session ended; err is why.
	ended chan struct{}
	err   error
}

// holdSession opens a session under request that prints "up" and then
// waits, for longer than the test that holds it lasts.
func holdSession(request string) *heldSession {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s := &heldSession{cancel: cancel, up: make(chan struct{}), ended: make(chan struct{})}
	var once sync.Once
	output := writerFunc(func(p []byte) (int, error) {
		once.Do(func() { close(s.up) })
		return len(p), nil
	})
	go func() {
		defer close(s.ended)
		s.err = streamAs(ctx, "alice", request, remotecommand.StreamOptions{Stdout: output}, "sh", "-c", "echo up; sleep 150")
	}()
	return s
}

// close ends the session from the user's side and waits until it ended.
func (s *heldSession) close() {
	s.cancel()
	<-s.ended
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitUntilUp waits until every session printed, and fails if one
// ended.
func waitUntilUp(t *testing.T, sessions []*heldSession) {
	t.Helper()
	deadline := time.NewTimer(2 * conditionTimeout)
	defer deadline.Stop()
	for i, s := range sessions {
		select {
		case <-s.up:
		case <-s.ended:
			t.Fatalf("session %d of %d ended before it was up: %v", i+1, len(sessions), s.err)
		case <-deadline.C:
			t.Fatalf("only %d of %d sessions up after %s", i, len(sessions), 2*conditionTimeout)
		}
	}
	for i, s := range sessions {
		select {
		case <-s.ended:
			t.Fatalf("session %d of %d ended while the others opened: %v", i+1, len(sessions), s.err)
		default:
		}
	}
}

// quickExec is the path and query of a short echo under request.
func quickExec(request, word string) string {
	return execPrefix + request + "/exec?" + url.Values{
		"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": {"echo", word}, "stdout": {"true"},
	}.Encode()
}

// TestSessionLimits: with janus-apiserver's defaults,
// --max-sessions-per-request=4 and --max-sessions-per-user=16, one session
// more than a bound is refused with a 429 naming the flag, and is not
// recorded; closing a session makes room again. Not parallel: it holds
// every session alice may have.
func TestSessionLimits(t *testing.T) {
	const perRequest, perUser = 4, 16
	var held []*heldSession
	var requests []string
	defer func() {
		for _, s := range held {
			s.close()
		}
		// The tests that follow need alice's sessions back.
		err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, conditionTimeout, true, func(context.Context) (bool, error) {
			for _, name := range requests {
				for _, s := range sessionsOf(t, name) {
					if s.Status.EndedAt == nil {
						return false, nil
					}
				}
			}
			return true, nil
		})
		if err != nil {
			t.Errorf("the held sessions are not all recorded as ended within %s", conditionTimeout)
		}
	}()
	newActive := func() string {
		name := activeRequest(t, time.Hour, "payments").Name
		requests = append(requests, name)
		return name
	}

	first := newActive()
	for range perRequest {
		held = append(held, holdSession(first))
	}
	waitUntilUp(t, held)
	res := rawExec(t, "alice", quickExec(first, "one-too-many"), nil)
	t.Logf("session %d under one request: %s", perRequest+1, res)
	if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "--max-sessions-per-request") {
		t.Errorf("session %d under one request: %s, want 429 naming --max-sessions-per-request", perRequest+1, res)
	}
	if sessions := sessionsOf(t, first); len(sessions) != perRequest {
		t.Errorf("%d sessions recorded, want the %d held: %+v", len(sessions), perRequest, sessions)
	}

	closed := time.Now()
	held[0].close()
	held = held[1:]
	eventually(t, "a session is admitted once one is closed", func() error {
		if res := rawExec(t, "alice", quickExec(first, "room-again"), nil); res.status != http.StatusSwitchingProtocols || res.stdout != "room-again\n" {
			return fmt.Errorf("%s", res)
		}
		return nil
	})
	t.Logf("admitted again %s after a session was closed", time.Since(closed).Round(time.Millisecond))
	// The quick session's slot is free once its end is recorded (the
	// engine records the end, then releases the slot): wait for that
	// before filling the request again, or the next session races it.
	eventually(t, "only the held sessions are open", func() error {
		open := 0
		for _, s := range sessionsOf(t, first) {
			if s.Status.EndedAt == nil {
				open++
			}
		}
		if open != perRequest-1 {
			return fmt.Errorf("%d sessions open, want the %d held", open, perRequest-1)
		}
		return nil
	})

	// Across requests: the first full again, three more full, is 16.
	held = append(held, holdSession(first))
	for range perUser/perRequest - 1 {
		name := newActive()
		for range perRequest {
			held = append(held, holdSession(name))
		}
	}
	waitUntilUp(t, held)
	last := newActive()
	res = rawExec(t, "alice", quickExec(last, "one-too-many"), nil)
	t.Logf("session %d of one user: %s", perUser+1, res)
	if res.status != http.StatusTooManyRequests || !strings.Contains(res.body, "--max-sessions-per-user") {
		t.Errorf("session %d of one user: %s, want 429 naming --max-sessions-per-user", perUser+1, res)
	}
	assertNothingRecorded(t, last)
}

// TestOverlongCommandIsInvalidAndUnrecorded: a command over the bounds
// (1024 arguments, 65536 bytes in all) is a 422 on the field command,
// before anything is recorded or relayed.
func TestOverlongCommandIsInvalidAndUnrecorded(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	cases := []struct {
		name    string
		command []string
		// says is the bound the refusal names.
		says string
	}{
		{"1025 arguments", append([]string{"echo"}, slices.Repeat([]string{"a"}, 1024)...), "1024"},
		{"65537 bytes", []string{"echo", strings.Repeat("x", 65537-len("echo"))}, "65536"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := execPrefix + ar.Name + "/exec?" + url.Values{
				"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": tc.command, "stdout": {"true"},
			}.Encode()
			res := rawExec(t, "alice", path, nil)
			t.Logf("a URL of %d bytes: HTTP %d", len(path), res.status)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s, want 422", res)
			}
			var status metav1.Status
			if err := json.Unmarshal([]byte(res.body), &status); err != nil {
				t.Fatalf("the refusal is not a Status: %v: %s", err, res.body)
			}
			if status.Details == nil || !slices.ContainsFunc(status.Details.Causes, func(c metav1.StatusCause) bool { return c.Field == "command" }) {
				t.Errorf("the refusal %+v names no cause on the field command", status.Details)
			}
			if !strings.Contains(status.Message, tc.says) {
				t.Errorf("the refusal %q does not name the bound %s", status.Message, tc.says)
			}
		})
	}
	assertNothingRecorded(t, ar.Name)
}

// TestDecisionReasonNeverReachesTheTerminalRaw: a revocation's reason with
// escape sequences (a title change, a screen clear) never reaches the
// user's terminal as control bytes: the API refuses it with a 422 and
// changes nothing (and, were it stored, the terminal would show it as
// text — the session engine's unit tests hold that).
func TestDecisionReasonNeverReachesTheTerminalRaw(t *testing.T) {
	t.Parallel()
	const (
		reason = "\x1b]0;pwned\x07\x1b[2J cut"
		shown  = `access revoked by carol: \x1b]0;pwned\x07\x1b[2J cut`
	)
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)
	_, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: reason}, metav1.CreateOptions{})
	if apierrors.IsInvalid(err) {
		// Refusing the reason is protection enough.
		t.Logf("the API refused the reason: %v", err)
		var status apierrors.APIStatus
		if !errors.As(err, &status) || status.Status().Details == nil ||
			!slices.ContainsFunc(status.Status().Details.Causes, func(c metav1.StatusCause) bool { return c.Field == "reason" }) {
			t.Errorf("the refusal %v names no cause on the field reason", err)
		}
		// A refused decision changes nothing.
		got, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
		if err != nil || got.Status.Phase != v1alpha1.AccessRequestActive {
			t.Errorf("after the refused revocation: %v, phase %v, want Active", err, got.Status.Phase)
		}
		select {
		case res := <-done:
			t.Errorf("the session ended after a refused revocation: %v", res.err)
		default:
		}
		return
	}
	if err != nil {
		t.Fatalf("carol revoking with an escape sequence in the reason: %v", err)
	}
	select {
	case res := <-done:
		errText := ""
		if res.err != nil {
			errText = res.err.Error()
		}
		t.Logf("terminal %q, exit error %q", res.stderr, errText)
		for what, text := range map[string]string{"the terminal": res.stderr, "the exit error": errText} {
			if strings.ContainsAny(text, "\x1b\x07") {
				t.Errorf("%s carries control bytes: %q", what, text)
			}
			if !strings.Contains(text, shown) {
				t.Errorf("%s (%q) does not show the reason as text %q", what, text, shown)
			}
		}
		if !strings.Contains(res.stderr, "janus: "+shown) {
			t.Errorf("the terminal %q lacks Janus's line %q", res.stderr, "janus: "+shown)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the session was not cut within 30s of the revocation")
	}
}
