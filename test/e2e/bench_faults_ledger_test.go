package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// What BenchmarkFaults's clients did and were told: the requests whose
// create and approve the API acknowledged, the errors they retried, and
// how each exec session ended.

const (
	// faultAttemptTimeout bounds one API call of a client.
	faultAttemptTimeout = 15 * time.Second
	// faultGiveUp is how long a client retries one write.
	faultGiveUp = 3 * time.Minute
)

// faultRequest is one request of the run, written by one client only.
type faultRequest struct {
	name, cluster string
	// createAcked: a create returned success. createAmbiguous: an attempt
	// was told the request already exists (an earlier attempt whose answer
	// was lost had written it): created, but not acknowledged.
	createAcked, createAmbiguous    bool
	approveAcked, approveAmbiguous  bool
	createAttempts, approveAttempts int
	// gaveUp says why a client stopped retrying, if it did.
	gaveUp string
}

func (fr *faultRequest) approved() bool { return fr.approveAcked || fr.approveAmbiguous }

// faultClient writes requests as alice and approves them as carol, who
// may approve for every cluster, retrying what the faults break.
type faultClient struct {
	alice, carol versioned.Interface
	batch        string
	errs         *clientErrors
}

// create writes fr until the API acknowledges it, says it exists after a
// failed attempt, refuses it for good, or faultGiveUp passes.
func (c *faultClient) create(fr *faultRequest, duration time.Duration) bool {
	deadline := time.Now().Add(faultGiveUp)
	for attempt := 1; ; attempt++ {
		fr.createAttempts = attempt
		ctx, cancel := context.WithTimeout(context.Background(), faultAttemptTimeout)
		_, err := c.alice.JanusV1alpha1().AccessRequests().Create(ctx, &v1alpha1.AccessRequest{
			ObjectMeta: metav1.ObjectMeta{Name: fr.name, Labels: map[string]string{batchLabel: c.batch}},
			Spec: v1alpha1.AccessRequestSpec{
				Cluster: fr.cluster, Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: duration}, Reason: "soak faults",
			},
		}, metav1.CreateOptions{})
		cancel()
		switch {
		case err == nil:
			fr.createAcked = true
			return true
		case apierrors.IsAlreadyExists(err):
			// Names are the run's own, so an earlier attempt wrote it:
			// ours, or one client-go retried itself after a 5xx with
			// Retry-After, which the AlreadyExists answers.
			c.errs.add("create", err)
			fr.createAmbiguous = true
			return true
		case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err):
			fr.gaveUp = "create refused: " + err.Error()
			return false
		}
		c.errs.add("create", err)
		if time.Now().After(deadline) {
			fr.gaveUp = fmt.Sprintf("create still failing after %s: %v", faultGiveUp, err)
			return false
		}
		retryPause(attempt)
	}
}

// approve approves fr as carol until the API acknowledges it, or a
// conflict turns out to be carol's own approval of a failed attempt.
func (c *faultClient) approve(fr *faultRequest) bool {
	deadline := time.Now().Add(faultGiveUp)
	for attempt := 1; ; attempt++ {
		fr.approveAttempts = attempt
		ctx, cancel := context.WithTimeout(context.Background(), faultAttemptTimeout)
		_, err := c.carol.JanusV1alpha1().AccessRequests().Approve(ctx, fr.name, &v1alpha1.Approval{Reason: "soak faults"}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) {
			if ar, getErr := c.carol.JanusV1alpha1().AccessRequests().Get(ctx, fr.name, metav1.GetOptions{}); getErr == nil && approvedBy(ar, "carol") {
				cancel()
				fr.approveAmbiguous = true
				return true
			}
		}
		cancel()
		switch {
		case err == nil:
			fr.approveAcked = true
			return true
		case apierrors.IsForbidden(err), apierrors.IsBadRequest(err), apierrors.IsInvalid(err):
			fr.gaveUp = "approve refused: " + err.Error()
			return false
		}
		// NotFound is retried too, and counted: the create was
		// acknowledged, so the request must be there.
		c.errs.add("approve", err)
		if time.Now().After(deadline) {
			fr.gaveUp = fmt.Sprintf("approve still failing after %s: %v", faultGiveUp, err)
			return false
		}
		retryPause(attempt)
	}
}

// retryPause spaces a client's retries: 100 ms doubling to 2 s, jittered
// so that the clients do not retry in step.
func retryPause(attempt int) {
	d := min(100*time.Millisecond<<min(attempt-1, 5), 2*time.Second)
	time.Sleep(d/2 + rand.N(d/2))
}

func approvedBy(ar *v1alpha1.AccessRequest, user string) bool {
	return slices.ContainsFunc(ar.Status.Approvals, func(d v1alpha1.Decision) bool { return d.User == user })
}

// clientErrors counts the errors clients retried, by kind, with one
// message of each.
type clientErrors struct {
	mu      sync.Mutex
	counts  map[string]int
	example map[string]string
}

func (e *clientErrors) add(op string, err error) {
	kind := op + ": " + errorKind(err)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts, e.example = map[string]int{}, map[string]string{}
	}
	e.counts[kind]++
	if _, ok := e.example[kind]; !ok {
		e.example[kind] = truncate(err.Error(), 160)
	}
}

func (e *clientErrors) total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.counts {
		n += c
	}
	return n
}

// summary lists the kinds, most frequent first.
func (e *clientErrors) summary() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	kinds := make([]string, 0, len(e.counts))
	for k := range e.counts {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return e.counts[kinds[i]] > e.counts[kinds[j]] })
	var lines []string
	for _, k := range kinds {
		lines = append(lines, fmt.Sprintf("%5d× %s (e.g. %s)", e.counts[k], k, e.example[k]))
	}
	return lines
}

// errorKind names an error the way an operator would count it.
func errorKind(err error) string {
	var status apierrors.APIStatus
	switch {
	case errors.As(err, &status):
		return fmt.Sprintf("HTTP %d %s", status.Status().Code, status.Status().Reason)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), strings.Contains(err.Error(), "EOF"):
		return "EOF"
	}
	return "other"
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Exec sessions.

// sessionOutcome is how one exec session ended, as its client saw it.
type sessionOutcome string

const (
	// sessionCompleted: the command ran to its end, every line received.
	sessionCompleted sessionOutcome = "survived"
	// sessionCut: the stream ended early with an error the client got.
	sessionCut sessionOutcome = "cut with a reason"
	// sessionRefused: the exec was refused before any output (no session).
	sessionRefused sessionOutcome = "refused"
	// sessionSilent: the stream ended early with no error, or hung.
	sessionSilent sessionOutcome = "silent"
)

type faultSession struct {
	outcome      sessionOutcome
	reason       string
	ticks, want  int
	long         bool
	cluster      string
	began, ended time.Time
}

// sessionTally gathers the results of every session of the run.
type sessionTally struct {
	mu      sync.Mutex
	results []faultSession
}

func (t *sessionTally) add(r faultSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.results = append(t.results, r)
}

func (t *sessionTally) count(outcome sessionOutcome) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, r := range t.results {
		if r.outcome == outcome {
			n++
		}
	}
	return n
}

// reasons counts the reasons sessions of outcome ended with, by kind.
func (t *sessionTally) reasons(outcome sessionOutcome) map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := map[string]int{}
	for _, r := range t.results {
		if r.outcome == outcome {
			m[reasonKind(r.reason)]++
		}
	}
	return m
}

// reasonKind groups the reasons a client was given.
func reasonKind(reason string) string {
	for _, k := range []string{"access ended", "access expired", "connection to the pod lost", "restarted", "agent"} {
		if strings.Contains(reason, k) {
			return k + ": " + truncate(reason, 90)
		}
	}
	for _, k := range []string{"1006", "EOF", "connection reset", "broken pipe"} {
		if strings.Contains(reason, k) {
			return "connection to Janus dropped (" + k + ")"
		}
	}
	return truncate(reason, 90)
}

// tickCounter counts the lines a session printed.
type tickCounter struct {
	mu sync.Mutex
	n  int
}

func (c *tickCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.n += bytes.Count(p, []byte("\n"))
	c.mu.Unlock()
	return len(p), nil
}

func (c *tickCounter) lines() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// tickSession runs, through accessrequests/NAME/exec as the user of cfg, a
// command printing want lines every interval in payments-api-0, and
// says how it ended. The client waits the command's time and 30 s more:
// a stream still open after that is silent.
func tickSession(cfg *rest.Config, request, cluster string, want int, interval time.Duration, long bool) (res faultSession) {
	script := fmt.Sprintf(`i=0; while [ $i -lt %d ]; do i=$((i+1)); echo "tick $i"; sleep %.1f; done`, want, interval.Seconds())
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": {"sh", "-c", script}, "stdout": {"true"}, "stderr": {"true"}}
	res = faultSession{want: want, long: long, cluster: cluster, began: time.Now()}
	defer func() { res.ended = time.Now() }()
	executor, err := remotecommand.NewWebSocketExecutor(cfg, "GET", cfg.Host+"/apis/janus.infroware.io/v1alpha1/accessrequests/"+request+"/exec?"+q.Encode())
	if err != nil {
		res.outcome, res.reason = sessionRefused, err.Error()
		return res
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(want)*interval+30*time.Second)
	defer cancel()
	var ticks tickCounter
	var stderr bytes.Buffer
	err = executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &ticks, Stderr: &stderr})
	res.ticks = ticks.lines()
	switch {
	case ctx.Err() != nil:
		res.outcome, res.reason = sessionSilent, fmt.Sprintf("hung: still open %s after it began, %d of %d lines", time.Duration(want)*interval+30*time.Second, res.ticks, want)
	case err == nil && res.ticks >= want:
		res.outcome = sessionCompleted
	case err == nil:
		res.outcome, res.reason = sessionSilent, fmt.Sprintf("ended without an error after %d of %d lines (stderr %q)", res.ticks, want, truncate(stderr.String(), 100))
	case res.ticks == 0:
		res.outcome, res.reason = sessionRefused, err.Error()
	default:
		res.outcome, res.reason = sessionCut, err.Error()
		if s := strings.TrimSpace(stderr.String()); s != "" {
			res.reason += " (stderr " + truncate(s, 100) + ")"
		}
	}
	return res
}
