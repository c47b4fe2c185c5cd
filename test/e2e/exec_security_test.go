package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

const execPrefix = "/apis/janus.infroware.io/v1alpha1/accessrequests/"

// rawExecResult is what a hand-made exec request got: a refusal, or a
// session and what it printed.
type rawExecResult struct {
	// status is the HTTP status of the handshake: 101 when a session
	// opened.
	status int
	// body is the refusal's body.
	body           string
	stdout, stderr string
	// failure is the Status on the error channel, if it was not Success.
	failure *metav1.Status
}

func (r rawExecResult) String() string {
	if r.status != http.StatusSwitchingProtocols {
		return fmt.Sprintf("refused with HTTP %d: %s", r.status, strings.TrimSpace(r.body))
	}
	return fmt.Sprintf("ran: stdout %q, stderr %q, failure %v", r.stdout, r.stderr, r.failure)
}

// dialExec opens a websocket to the central kube-apiserver as user, with
// the path and query exactly as given (no client library to tidy them
// up) and any extra headers.
func dialExec(t *testing.T, user, pathAndQuery string, header http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	cfg, err := bed.RESTConfigFor(user)
	if err != nil {
		t.Fatal(err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Authorization", "Bearer "+cfg.BearerToken)
	dialer := websocket.Dialer{TLSClientConfig: tlsConfig, Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	return dialer.Dial(strings.Replace(cfg.Host, "https://", "wss://", 1)+pathAndQuery, h)
}

// rawExec runs one hand-made exec request to its end.
func rawExec(t *testing.T, user, pathAndQuery string, header http.Header) rawExecResult {
	t.Helper()
	conn, resp, err := dialExec(t, user, pathAndQuery, header)
	if err != nil {
		if resp == nil {
			t.Fatalf("dialing %s: %v", pathAndQuery, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return rawExecResult{status: resp.StatusCode, body: string(body)}
	}
	defer conn.Close()
	res := rawExecResult{status: resp.StatusCode}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return res
		}
		if len(data) == 0 {
			continue
		}
		switch data[0] {
		case 1:
			res.stdout += string(data[1:])
		case 2:
			res.stderr += string(data[1:])
		case 3:
			var status metav1.Status
			if json.Unmarshal(data[1:], &status) == nil && status.Status != metav1.StatusSuccess {
				res.failure = &status
			}
		}
	}
}

// agentStreams lists the namespace/pod of every stream the agent relayed
// for request, from its log.
func agentStreams(t *testing.T, request string) []string {
	t.Helper()
	line := regexp.MustCompile(`"Stream" request="` + regexp.QuoteMeta(request) + `" subresource="[a-z]+" namespace="([^"]*)" pod="([^"]*)"`)
	var out []string
	for _, m := range line.FindAllStringSubmatch(tailAgentLog(t), -1) {
		out = append(out, m[1]+"/"+m[2])
	}
	return out
}

// TestExecSecurityQueryAndPathTricks: whatever the path or query says, an
// exec under a request for payments either is refused or runs in payments.
// Each trick is judged by what happened, not by what Janus answered: the
// sessions in status.sessions and the streams in the agent's log.
func TestExecSecurityQueryAndPathTricks(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	exec := execPrefix + ar.Name + "/exec"
	const streams = "&stdout=true&stderr=true"
	cases := []struct {
		name string
		path string
		// invalid tricks must be refused by Janus's validation (422).
		invalid bool
		// runs, when set, is what the command must print when it runs.
		runs string
	}{
		{name: "repeated namespace, granted first", path: exec + "?namespace=payments&namespace=default&pod=payments-api-0&command=echo&command=repeated-ns-1" + streams},
		{name: "repeated namespace, granted last", path: exec + "?namespace=default&namespace=payments&pod=web-0&command=echo&command=repeated-ns-2" + streams},
		{name: "repeated pod", path: exec + "?namespace=payments&pod=payments-api-0&pod=web-0&command=echo&command=repeated-pod" + streams},
		{name: "pod climbing out with encoded slashes", path: exec + "?namespace=payments&pod=..%2F..%2Fsecrets&command=echo&command=climb" + streams, invalid: true},
		{name: "pod naming a subresource", path: exec + "?namespace=payments&pod=payments-api-0%2Fexec&command=echo&command=subresource" + streams, invalid: true},
		{name: "namespace with an encoded slash", path: exec + "?namespace=payments%2F..%2Fdefault&pod=web-0&command=echo&command=ns-slash" + streams, invalid: true},
		{name: "namespace with a raw slash", path: exec + "?namespace=default/../payments&pod=web-0&command=echo&command=ns-raw-slash" + streams, invalid: true},
		{name: "namespace smuggled in the container", path: exec + "?namespace=payments&pod=payments-api-0&container=main%26namespace%3Ddefault&command=echo&command=container" + streams},
		{name: "extra and unknown parameters", path: exec + "?namespace=payments&pod=payments-api-0&stdin=true&command=echo&command=x&container=main&foo=bar" + streams, runs: "x\n"},
		{name: "a path below exec", path: exec + "/default/web-0?namespace=payments&pod=payments-api-0&command=echo&command=below" + streams},
		{name: "a dot-dot path", path: exec + "/../log?namespace=default&pod=web-0&command=echo&command=dotdot" + streams},
		{name: "a namespaced path", path: "/apis/janus.infroware.io/v1alpha1/namespaces/default/accessrequests/" + ar.Name + "/exec?namespace=default&pod=web-0&command=echo&command=namespaced" + streams},
		{name: "a name climbing out with encoded slashes", path: execPrefix + ar.Name + "%2F..%2F..%2F..%2F..%2Fapi%2Fv1%2Fnamespaces%2Fdefault%2Fpods%2Fweb-0/exec?command=echo&command=escape" + streams},
	}
	opened := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := rawExec(t, "alice", tc.path, nil)
			t.Logf("%s: %s", tc.path, res)
			if res.status == http.StatusSwitchingProtocols {
				opened++
			}
			switch {
			case tc.invalid && res.status != http.StatusUnprocessableEntity:
				t.Errorf("%s, want 422 from Janus's validation", res)
			case tc.runs != "" && (res.status != http.StatusSwitchingProtocols || res.stdout != tc.runs):
				t.Errorf("%s, want it to run and print %q", res, tc.runs)
			}
		})
	}

	sessions, err := requestSessions(t, ar.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != opened {
		t.Errorf("%d sessions opened and %d recorded: %+v", opened, len(sessions), sessions)
	}
	for _, s := range sessions {
		if !slices.Contains(ar.Spec.Namespaces, s.Spec.Namespace) || s.Spec.User.Username != "alice" {
			t.Errorf("session %+v ran outside the granted namespaces %v", s, ar.Spec.Namespaces)
		}
	}
	for _, s := range agentStreams(t, ar.Name) {
		if !strings.HasPrefix(s, "payments/") {
			t.Errorf("the agent relayed a stream to %s under a request for payments", s)
		}
	}
}

// TestExecSecurityIdentityHeaders: identity comes from the credentials the
// kube-apiserver checked, never from headers the client sends, and the
// record (status.sessions, Events) names that identity.
func TestExecSecurityIdentityHeaders(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	path := execPrefix + ar.Name + "/exec?namespace=payments&pod=payments-api-0&command=echo&command=who&stdout=true&stderr=true"

	// Impersonation is the aggregator's business, and alice may not.
	for _, header := range []http.Header{
		{"Impersonate-User": {"system:admin"}},
		{"Impersonate-User": {"alice"}, "Impersonate-Group": {"system:masters"}},
	} {
		res := rawExec(t, "alice", path, header)
		if res.status != http.StatusForbidden || !strings.Contains(res.body, "impersonate") {
			t.Errorf("alice sending %v: %s, want 403 for impersonating", header, res)
		}
	}

	// Front-proxy headers from a client are dropped on the way: the
	// session is alice's.
	res := rawExec(t, "alice", path, http.Header{
		"X-Remote-User": {"carol"}, "X-Remote-Group": {"system:masters"}, "X-Remote-Extra-Scopes": {"admin"},
	})
	if res.status != http.StatusSwitchingProtocols || res.stdout != "who\n" {
		t.Errorf("alice sending X-Remote-User carol: %s, want alice's own session to run", res)
	}
	sessions, err := requestSessions(t, ar.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 || sessions[0].Spec.User.Username != "alice" {
		t.Errorf("sessions %+v, want exactly one, alice's", sessions)
	}
	// So are its Events, which kubectl describe shows.
	eventually(t, "describe shows alice's session start and end", func() error {
		out := mustKubectl(t, "admin", "describe", "accessrequest", ar.Name)
		for _, want := range []string{"SessionStarted", "alice exec payments/payments-api-0: echo who", "SessionEnded", "alice exec payments/payments-api-0 ended after", ": command ended"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("describe lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "carol exec") {
			return fmt.Errorf("an Event names carol:\n%s", out)
		}
		return nil
	})
	// As carol herself, the same request is refused: she is not the
	// requester.
	if res := rawExec(t, "carol", path, nil); res.status != http.StatusForbidden {
		t.Errorf("carol: %s, want 403", res)
	}
}

// processRSS is the resident memory of the running testbed component
// called name, from /proc/<pid>/status.
func processRSS(t testing.TB, name string) int64 {
	t.Helper()
	procs := bed.Processes()
	// A component restarted by a fault test is listed once per start;
	// the running one is the last.
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i].Name != name {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", procs[i].PID))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
				if err != nil {
					t.Fatalf("parsing %q: %v", line, err)
				}
				return kb << 10
			}
		}
	}
	t.Fatalf("no running %s", name)
	return 0
}

// TestExecSecurityClientThatNeverReads: a client that opens a session
// spewing 256 MiB and never reads must not make Janus hold that output;
// the relay's backpressure stops it at its source. Not parallel, so the
// memory measured is this session's and not other tests'.
func TestExecSecurityClientThatNeverReads(t *testing.T) {
	const (
		output    = 256 << 20
		allowance = 64 << 20
		window    = 5 * time.Second
	)
	ar := activeRequest(t, time.Hour, "payments")
	before := processRSS(t, "janus-apiserver")
	path := fmt.Sprintf("%s%s/exec?namespace=payments&pod=payments-api-0&command=head&command=-c&command=%d&command=/dev/zero&stdout=true", execPrefix, ar.Name, output)
	conn, _, err := dialExec(t, "alice", path, nil)
	if err != nil {
		t.Fatalf("opening the session: %v", err)
	}
	defer conn.Close()
	waitForSession(t, ar.Name)

	// For the whole window nothing is read; memory is sampled throughout.
	peak := before
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	end := time.After(window)
sampling:
	for {
		select {
		case <-sample.C:
			peak = max(peak, processRSS(t, "janus-apiserver"))
		case <-end:
			break sampling
		}
	}
	t.Logf("janus-apiserver RSS %d MiB before, peak %d MiB while the client did not read", before>>20, peak>>20)
	if grew := peak - before; grew >= allowance {
		t.Errorf("janus-apiserver grew by %d MiB while a client did not read, want under %d MiB", grew>>20, allowance>>20)
	}

	// The command was producing all along: reading now gets its output.
	var read int
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for read < 1<<20 {
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatalf("reading the output after %d bytes: %v", read, err)
		}
		if len(data) > 0 && data[0] == 1 {
			read += len(data) - 1
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	conn.Close()

	eventually(t, "the session ends, having relayed a fraction of the output", func() error {
		sessions, err := requestSessions(t, ar.Name)
		if err != nil {
			return err
		}
		if len(sessions) != 1 || sessions[0].Status.EndedAt == nil {
			return fmt.Errorf("sessions %+v, want one ended", sessions)
		}
		out := sessions[0].Status.BytesOut
		t.Logf("Janus relayed %d KiB of the %d MiB the command would write", out>>10, output>>20)
		if out >= allowance {
			t.Errorf("Janus read %d MiB of output for a client that did not read, want under %d MiB", out>>20, allowance>>20)
		}
		return nil
	})
}
