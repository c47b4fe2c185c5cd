package e2e

import (
	"context"
	"io"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The exec benchmarks compare a session through Janus (central
// kube-apiserver → aggregation → janus-apiserver → tunnel → agent → target
// kube-apiserver → kwok) with the same session opened straight at the
// target's kube-apiserver, in one run, and report the ratios.
//
//	go test ./test/e2e -run '^$' -bench 'Exec|Sessions' -benchtime 1x

// execPath is how one benchmark session is opened.
type execPath struct {
	name   string
	config *rest.Config
	url    func(q url.Values) string
}

func execPaths(b *testing.B, request string) []execPath {
	alice, err := bed.RESTConfigFor("alice")
	if err != nil {
		b.Fatal(err)
	}
	target := bed.Target("dev")
	return []execPath{
		{"direct", target.AdminConfig(), func(q url.Values) string {
			q.Del("namespace")
			q.Del("pod")
			return target.URL + "/api/v1/namespaces/payments/pods/payments-api-0/exec?" + q.Encode()
		}},
		{"janus", alice, func(q url.Values) string {
			return alice.Host + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + request + "/exec?" + q.Encode()
		}},
	}
}

func (p execPath) stream(ctx context.Context, b *testing.B, opts remotecommand.StreamOptions, command ...string) error {
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": command, "stdout": {"true"}}
	if opts.Stdin != nil {
		q.Set("stdin", "true")
	}
	executor, err := remotecommand.NewWebSocketExecutor(p.config, "GET", p.url(q))
	if err != nil {
		b.Fatal(err)
	}
	return executor.StreamWithContext(ctx, opts)
}

// signalWriter reports every byte written to it.
type signalWriter struct{ got chan struct{} }

func (w signalWriter) Write(p []byte) (int, error) {
	for range p {
		w.got <- struct{}{}
	}
	return len(p), nil
}

// BenchmarkExecVersusDirect measures the interactive round trip (one byte
// typed, echoed by cat) and bulk output throughput (64 MiB from head).
func BenchmarkExecVersusDirect(b *testing.B) {
	request := activeRequestForBench(b)
	const roundTrips = 200
	const bulk = 64 << 20
	results := map[string][2]float64{}
	for b.Loop() {
		for _, p := range execPaths(b, request) {
			// Interactive: a long-lived cat; each round trip is one byte.
			ctx, cancel := context.WithCancel(context.Background())
			stdinR, stdinW := io.Pipe()
			echoed := signalWriter{got: make(chan struct{}, 16)}
			done := make(chan error, 1)
			go func() { done <- p.stream(ctx, b, remotecommand.StreamOptions{Stdin: stdinR, Stdout: echoed}, "cat") }()
			var total time.Duration
			for i := range roundTrips + 1 {
				start := time.Now()
				if _, err := stdinW.Write([]byte{'x'}); err != nil {
					b.Fatal(err)
				}
				select {
				case <-echoed.got:
				case err := <-done:
					b.Fatalf("%s: session ended: %v", p.name, err)
				case <-time.After(10 * time.Second):
					b.Fatalf("%s: no echo within 10s", p.name)
				}
				if i > 0 { // the first byte pays for the session set-up
					total += time.Since(start)
				}
			}
			cancel()
			stdinW.Close()
			<-done

			// Bulk: bytes per second of a command's output.
			var n atomic.Int64
			start := time.Now()
			err := p.stream(context.Background(), b, remotecommand.StreamOptions{Stdout: countWriter{&n}}, "head", "-c", strconv.Itoa(bulk), "/dev/zero")
			elapsed := time.Since(start)
			if err != nil || n.Load() != bulk {
				b.Fatalf("%s: bulk read %d of %d bytes: %v", p.name, n.Load(), bulk, err)
			}
			results[p.name] = [2]float64{float64(total.Microseconds()) / 1000 / roundTrips, float64(bulk) / elapsed.Seconds() / (1 << 20)}
		}
	}
	d, j := results["direct"], results["janus"]
	b.ReportMetric(d[0], "direct-rtt-ms")
	b.ReportMetric(j[0], "janus-rtt-ms")
	b.ReportMetric(j[0]/d[0], "rtt-ratio")
	b.ReportMetric(d[1], "direct-MiB/s")
	b.ReportMetric(j[1], "janus-MiB/s")
	b.ReportMetric(j[1]/d[1], "throughput-ratio")
}

type countWriter struct{ n *atomic.Int64 }

func (w countWriter) Write(p []byte) (int, error) {
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// BenchmarkConcurrentSessions opens 200 sessions through Janus at once and
// reports the resident memory they cost janus-apiserver and the agent.
func BenchmarkConcurrentSessions(b *testing.B) {
	request := activeRequestForBench(b)
	janusPath := execPaths(b, request)[1]
	const sessions = 200
	for b.Loop() {
		before := map[string]int64{"janus-apiserver": processRSS(b, "janus-apiserver"), "dev-janus-agent": processRSS(b, "dev-janus-agent")}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var started atomic.Int64
		for range sessions {
			wg.Go(func() {
				stdout := signalWriter{got: make(chan struct{}, 64)}
				go func() {
					<-stdout.got
					started.Add(1)
				}()
				_ = janusPath.stream(ctx, b, remotecommand.StreamOptions{Stdout: stdout}, "sh", "-c", "echo up; sleep 120")
			})
		}
		deadline := time.Now().Add(2 * time.Minute)
		for started.Load() < sessions && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond) // sampling a counter the sessions raise
		}
		if started.Load() < sessions {
			b.Fatalf("only %d of %d sessions started", started.Load(), sessions)
		}
		after := map[string]int64{"janus-apiserver": processRSS(b, "janus-apiserver"), "dev-janus-agent": processRSS(b, "dev-janus-agent")}
		cancel()
		wg.Wait()
		b.ReportMetric(float64(after["janus-apiserver"]-before["janus-apiserver"])/sessions/1024, "janus-KiB/session")
		b.ReportMetric(float64(after["dev-janus-agent"]-before["dev-janus-agent"])/sessions/1024, "agent-KiB/session")
		b.ReportMetric(float64(after["janus-apiserver"])/(1<<20), "janus-RSS-MiB")
	}
}

func activeRequestForBench(b *testing.B) string {
	ar := newRequest(b, time.Hour, "payments")
	approveAs(b, "bob", ar.Name)
	waitForPhase(b, ar.Name, "Active", 30*time.Second)
	b.Cleanup(func() {
		_, _ = janusAs(b, "alice").JanusV1alpha1().AccessRequests().Withdraw(context.Background(), ar.Name, &v1alpha1.Withdrawal{Reason: "benchmark done"}, metav1.CreateOptions{})
	})
	return ar.Name
}
