package e2e

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/internal/testenv"
)

// The exec benchmarks (issue 8) compare, in one run, a session through
// Janus (central kube-apiserver → aggregation → janus-apiserver → tunnel →
// agent → target kube-apiserver → kwok) with the same session opened
// straight at the target's kube-apiserver ("direct"), and with the direct
// session pushed through as many trivial TLS relays as Janus has hops
// ("floor", see bench_relay_helpers_test.go): Janus is judged against the floor.
//
//	go test ./test/e2e -run '^$' -bench 'ExecVersusDirect|ConcurrentSessions' -benchtime 1x -timeout 30m
//
// Every session here lasts well under 30 s.

const (
	// execRounds alternate the paths, so that a slow moment of the
	// machine is shared out rather than charged to one path.
	execRounds = 5
	// roundTripsPerSession are timed in each interactive session, after a
	// first byte that pays for the session's set-up.
	roundTripsPerSession = 200
	// bulkBytes is the output of each bulk session.
	bulkBytes = 64 << 20

	// The goals of issue 8, Janus against the floor.
	goalThroughputRatio = 0.9
	goalRTTRatio        = 1.1
	// And per open session, in live heap.
	goalJanusHeapPerSession = 128 << 10
	goalAgentHeapPerSession = 64 << 10
)

// execPath is how one benchmark session is opened.
type execPath struct {
	name   string
	config *rest.Config
	url    func(q url.Values) string
}

// podExecPath is pods/exec of the demo pod at config's host.
func podExecPath(name string, config *rest.Config) execPath {
	return execPath{name, config, func(q url.Values) string {
		q.Del("namespace")
		q.Del("pod")
		return config.Host + "/api/v1/namespaces/payments/pods/payments-api-0/exec?" + q.Encode()
	}}
}

// janusExecPath is alice's exec through the active request.
func janusExecPath(b *testing.B, request string) execPath {
	alice, err := bed.RESTConfigFor("alice")
	if err != nil {
		b.Fatal(err)
	}
	return execPath{"janus", alice, func(q url.Values) string {
		return alice.Host + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + request + "/exec?" + q.Encode()
	}}
}

// janusBypassPath is alice's exec straight at janus-apiserver, which
// authenticates her token itself (delegated TokenReview): a measurement
// only, no user reaches Janus this way.
func janusBypassPath(b *testing.B, request string) execPath {
	p := janusExecPath(b, request)
	cfg := rest.CopyConfig(p.config)
	cfg.Host = "https://" + bed.JanusAddress()
	cfg.TLSClientConfig = rest.TLSClientConfig{CAFile: bed.JanusCAFile()}
	return execPath{"janus-bypass", cfg, func(q url.Values) string {
		return cfg.Host + "/apis/janus.infroware.io/v1alpha1/accessrequests/" + request + "/exec?" + q.Encode()
	}}
}

func (p execPath) stream(ctx context.Context, opts remotecommand.StreamOptions, command ...string) error {
	q := url.Values{"namespace": {"payments"}, "pod": {"payments-api-0"}, "command": command, "stdout": {"true"}}
	if opts.Stdin != nil {
		q.Set("stdin", "true")
	}
	executor, err := remotecommand.NewWebSocketExecutor(p.config, "GET", p.url(q))
	if err != nil {
		return fmt.Errorf("%s: creating the executor: %w", p.name, err)
	}
	// The executor logs errors for a session ended by cancelling its
	// context, which is how the benchmarks end theirs; the zero logger
	// drops them. What matters reaches the benchmark as the error.
	return executor.StreamWithContext(klog.NewContext(ctx, klog.Logger{}), opts)
}

// signalWriter reports every byte written to it.
type signalWriter struct{ got chan struct{} }

func (w signalWriter) Write(p []byte) (int, error) {
	for range p {
		w.got <- struct{}{}
	}
	return len(p), nil
}

// bulkWriter counts the bytes written to it and notes when the first
// came.
type bulkWriter struct {
	n     atomic.Int64
	first atomic.Pointer[time.Time]
}

func (w *bulkWriter) Write(p []byte) (int, error) {
	if w.first.Load() == nil {
		now := time.Now()
		w.first.CompareAndSwap(nil, &now)
	}
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// pathResult is what one path measured over every round.
type pathResult struct {
	rtts []time.Duration
	// bulk is the time from the first byte of output to the end of the
	// session, summed over the bulk sessions, so the set-up of a session
	// is not counted as throughput.
	bulk      time.Duration
	bulkBytes int64
	cpu       cpuTimes
}

func (r *pathResult) rttPercentile(p int) float64 {
	return float64(percentile(r.rtts, p).Nanoseconds()) / 1e3
}

func (r *pathResult) mibPerSecond() float64 {
	return float64(r.bulkBytes) / (1 << 20) / r.bulk.Seconds()
}

// cpuPerKiB is the CPU the process spent in the bulk sessions per KiB of
// output, in nanoseconds.
func (r *pathResult) cpuPerKiB(process string) float64 {
	return float64(r.cpu[process].Nanoseconds()) / (float64(r.bulkBytes) / 1024)
}

// BenchmarkExecVersusDirect measures, for each path, the interactive round
// trip (one byte typed, echoed by a long-lived cat), bulk output throughput
// (64 MiB from head), and the CPU every process on any path spends per KiB
// of that output.
func BenchmarkExecVersusDirect(b *testing.B) {
	request := activeRequest(b, time.Hour, "payments").Name
	target := bed.Target("dev")
	floor := startRelayChain(b, target)
	paths := []execPath{podExecPath("direct", target.AdminConfig()), janusExecPath(b, request), podExecPath("floor", floor.config)}
	// janus-bypass skips the aggregator: Janus's own two hops
	// (janus-apiserver and the agent) against the floor's three relays
	// tell what the aggregator costs and what Janus does.
	paths = append(paths, janusBypassPath(b, request))

	measured := testbedProcesses(b, "kube-apiserver", "janus-apiserver", "dev-janus-agent", "dev-kube-apiserver", "dev-kwok")
	measured[0].Name = "central-kube-apiserver"
	measured = append(measured, floor.procs...)
	measured = append(measured, testenv.ProcessInfo{Name: benchProcessName})

	results := map[string]*pathResult{}
	for _, p := range paths {
		results[p.name] = &pathResult{cpu: cpuTimes{}}
	}
	for b.Loop() {
		for round := range execRounds {
			// Round trips alternate echo by echo between the paths, so a
			// busy moment of the machine falls on all of them alike.
			echoes := make([]*echoSession, len(paths))
			for i, p := range paths {
				echoes[i] = openEcho(b, p)
			}
			for n := range roundTripsPerSession + 1 {
				for i := range paths {
					e := echoes[(round+n+i)%len(paths)]
					if rtt := e.roundTrip(b); n > 0 { // the first byte pays for the session set-up
						results[e.path.name].rtts = append(results[e.path.name].rtts, rtt)
					}
				}
			}
			for _, e := range echoes {
				e.close()
			}
			for i := range paths {
				p := paths[(round+i)%len(paths)]
				r := results[p.name]
				before := readCPU(b, measured)
				profiled := profileJanusCPU(b, p.name)
				r.bulk += bulkOutput(b, p)
				profiled()
				r.cpu.addSince(before, readCPU(b, measured))
				r.bulkBytes += bulkBytes
			}
		}
	}
	for _, r := range results {
		slices.Sort(r.rtts)
	}

	var processes []string
	for _, proc := range measured {
		processes = append(processes, proc.Name)
	}
	for _, p := range paths {
		r := results[p.name]
		b.ReportMetric(r.rttPercentile(50), p.name+"-rtt-p50-us")
		b.ReportMetric(r.rttPercentile(99), p.name+"-rtt-p99-us")
		b.ReportMetric(r.mibPerSecond(), p.name+"-MiB/s")
		var total float64
		for _, proc := range processes {
			total += r.cpuPerKiB(proc)
			b.ReportMetric(r.cpuPerKiB(proc), p.name+"-cpu-ns/KiB:"+proc)
		}
		b.ReportMetric(total, p.name+"-cpu-ns/KiB:total")
	}
	janus := results["janus"]
	for _, base := range []string{"floor", "direct"} {
		r := results[base]
		b.ReportMetric(janus.rttPercentile(50)/r.rttPercentile(50), "janus/"+base+"-rtt-p50-ratio")
		b.ReportMetric(janus.mibPerSecond()/r.mibPerSecond(), "janus/"+base+"-throughput-ratio")
	}
	b.Log(execReport(paths, results, processes))
}

// execReport is the figures in nine lines (the most a benchmark's log
// shows), with the goals of issue 8 next to the ratios.
func execReport(paths []execPath, results map[string]*pathResult, processes []string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%-14s", "")
	for _, p := range paths {
		fmt.Fprintf(&s, "%13s", p.name)
	}
	totalCPU := func(r *pathResult) float64 {
		var total float64
		for _, proc := range processes {
			total += r.cpuPerKiB(proc)
		}
		return total
	}
	row := func(label string, value func(r *pathResult) float64) {
		fmt.Fprintf(&s, "\n%-14s", label)
		for _, p := range paths {
			fmt.Fprintf(&s, "%13.1f", value(results[p.name]))
		}
	}
	row("rtt p50 µs", func(r *pathResult) float64 { return r.rttPercentile(50) })
	row("rtt p99 µs", func(r *pathResult) float64 { return r.rttPercentile(99) })
	row("bulk MiB/s", (*pathResult).mibPerSecond)
	row("CPU ns/KiB", totalCPU)
	janus, floor, direct := results["janus"], results["floor"], results["direct"]
	rtt := janus.rttPercentile(50) / floor.rttPercentile(50)
	throughput := janus.mibPerSecond() / floor.mibPerSecond()
	fmt.Fprintf(&s, "\njanus/floor: rtt p50 %.2f× (goal ≤ %.2f×: %s), throughput %.2f× (goal ≥ %.2f×: %s); janus/direct: rtt p50 %.2f×, throughput %.2f×",
		rtt, goalRTTRatio, verdict(rtt <= goalRTTRatio), throughput, goalThroughputRatio, verdict(throughput >= goalThroughputRatio),
		janus.rttPercentile(50)/direct.rttPercentile(50), janus.mibPerSecond()/direct.mibPerSecond())
	for _, p := range paths {
		r := results[p.name]
		byCost := slices.Clone(processes)
		slices.SortStableFunc(byCost, func(a, b string) int { return cmp.Compare(r.cpuPerKiB(b), r.cpuPerKiB(a)) })
		var parts []string
		for _, proc := range byCost {
			if c := r.cpuPerKiB(proc); c > 0 {
				parts = append(parts, fmt.Sprintf("%s %.0f", proc, c))
			}
		}
		fmt.Fprintf(&s, "\nCPU ns/KiB %s: %s", p.name, strings.Join(parts, " + "))
	}
	return s.String()
}

// echoSession is a long-lived cat that echoes what is typed.
type echoSession struct {
	path   execPath
	cancel context.CancelFunc
	stdin  *io.PipeWriter
	echoed signalWriter
	done   chan error
}

func openEcho(b *testing.B, p execPath) *echoSession {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdinR, stdinW := io.Pipe()
	e := &echoSession{path: p, cancel: cancel, stdin: stdinW, echoed: signalWriter{got: make(chan struct{}, 16)}, done: make(chan error, 1)}
	go func() {
		err := p.stream(ctx, remotecommand.StreamOptions{Stdin: stdinR, Stdout: e.echoed}, "cat")
		// A write waiting for a session that has ended returns.
		stdinR.CloseWithError(fmt.Errorf("the session ended: %v", err))
		e.done <- err
	}()
	return e
}

// roundTrip times one byte written and echoed.
func (e *echoSession) roundTrip(b *testing.B) time.Duration {
	b.Helper()
	start := time.Now()
	if _, err := e.stdin.Write([]byte{'x'}); err != nil {
		b.Fatalf("%s: round trip: %v", e.path.name, err)
	}
	select {
	case <-e.echoed.got:
	case err := <-e.done:
		b.Fatalf("%s: the session ended: %v", e.path.name, err)
	case <-time.After(10 * time.Second):
		b.Fatalf("%s: no echo within 10s", e.path.name)
	}
	return time.Since(start)
}

func (e *echoSession) close() {
	e.cancel()
	e.stdin.Close()
	<-e.done
}

// bulkOutput runs a session that writes bulkBytes to stdout and returns
// the time from its first byte to its end.
func bulkOutput(b *testing.B, p execPath) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var w bulkWriter
	err := p.stream(ctx, remotecommand.StreamOptions{Stdout: &w}, "head", "-c", strconv.Itoa(bulkBytes), "/dev/zero")
	end := time.Now()
	if err != nil || w.n.Load() != bulkBytes {
		b.Fatalf("%s: bulk read %d of %d bytes: %v", p.name, w.n.Load(), bulkBytes, err)
	}
	return end.Sub(*w.first.Load())
}

// percentile is the nearest-rank p-th percentile of sorted samples.
func percentile(sorted []time.Duration, p int) time.Duration {
	i := (len(sorted)*p + 99) / 100
	if i > 0 {
		i--
	}
	return sorted[i]
}

// firstWrite signals once, at the first byte written to it.
type firstWrite struct {
	once   sync.Once
	signal chan<- struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.once.Do(func() { w.signal <- struct{}{} })
	return len(p), nil
}

// BenchmarkConcurrentSessions opens 200 sessions through Janus at once and
// reports what they cost janus-apiserver and the agent: resident memory,
// and live heap after a GC, per open session.
func BenchmarkConcurrentSessions(b *testing.B) {
	// 200 sessions of one user are far past the default session limits.
	restartJanusWith(b, "--max-sessions-per-request=0", "--max-sessions-per-user=0")
	request := activeRequest(b, time.Hour, "payments").Name
	janusPath := janusExecPath(b, request)
	const sessions = 200
	for b.Loop() {
		rssBefore := map[string]int64{"janus-apiserver": processRSS(b, "janus-apiserver"), "dev-janus-agent": processRSS(b, "dev-janus-agent")}
		janusHeapBefore, agentHeapBefore := janusHeap(b), agentHeap(b)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		up := make(chan struct{}, sessions)
		ended := make(chan error, sessions)
		begin := time.Now()
		for range sessions {
			wg.Go(func() {
				ended <- janusPath.stream(ctx, remotecommand.StreamOptions{Stdout: &firstWrite{signal: up}}, "sh", "-c", "echo up; sleep 120")
			})
		}
		stop := func() {
			cancel()
			wg.Wait()
		}
		deadline := time.After(2 * time.Minute)
		for opened := 0; opened < sessions; {
			select {
			case <-up:
				opened++
			case err := <-ended:
				stop()
				b.Fatalf("a session ended after %s, with %d of %d open: %v", time.Since(begin).Round(time.Millisecond), opened, sessions, err)
			case <-deadline:
				stop()
				b.Fatalf("only %d of %d sessions open after 2 minutes", opened, sessions)
			}
		}
		opening := time.Since(begin)
		rssAfter := map[string]int64{"janus-apiserver": processRSS(b, "janus-apiserver"), "dev-janus-agent": processRSS(b, "dev-janus-agent")}
		janusHeapAfter, agentHeapAfter := janusHeap(b), agentHeap(b)
		measured := time.Since(begin)
		select {
		case err := <-ended:
			stop()
			b.Fatalf("a session ended before the measurement was done, %s after the first opened: %v", measured.Round(time.Millisecond), err)
		default:
		}
		stop()

		janusHeapPerSession := float64(janusHeapAfter-janusHeapBefore) / sessions
		agentHeapPerSession := float64(agentHeapAfter-agentHeapBefore) / sessions
		b.ReportMetric(float64(rssAfter["janus-apiserver"]-rssBefore["janus-apiserver"])/sessions/1024, "janus-KiB/session")
		b.ReportMetric(float64(rssAfter["dev-janus-agent"]-rssBefore["dev-janus-agent"])/sessions/1024, "agent-KiB/session")
		b.ReportMetric(float64(rssAfter["janus-apiserver"])/(1<<20), "janus-RSS-MiB")
		b.ReportMetric(janusHeapPerSession/1024, "janus-heap-KiB/session")
		b.ReportMetric(agentHeapPerSession/1024, "agent-heap-KiB/session")
		b.Logf("%d sessions open in %s, measured by %s", sessions, opening.Round(time.Millisecond), measured.Round(time.Millisecond))
		b.Logf("janus-apiserver live heap %.1f KiB/session (%d → %d bytes), goal ≤ %d KiB: %s",
			janusHeapPerSession/1024, janusHeapBefore, janusHeapAfter, goalJanusHeapPerSession>>10, verdict(janusHeapPerSession <= goalJanusHeapPerSession))
		b.Logf("agent live heap %.1f KiB/session (%d → %d bytes), goal ≤ %d KiB: %s",
			agentHeapPerSession/1024, agentHeapBefore, agentHeapAfter, goalAgentHeapPerSession>>10, verdict(agentHeapPerSession <= goalAgentHeapPerSession))
	}
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}
