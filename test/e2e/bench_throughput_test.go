package e2e

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// The throughput part of the soak (issue 14): requests created and
// approved through the aggregator by concurrent clients, on the testbed's
// SQLite and on a testbed of its own whose janus-apiserver stores in
// PostgreSQL (hack/ensure-postgres.sh, or JANUS_TEST_POSTGRES_URL).
//
//	go test ./test/e2e -run '^$' -bench 'CreateAndApprove' -benchtime 1x

const (
	// throughputRequests are created and approved per iteration.
	throughputRequests = 1000
	// throughputClients create and approve at once, each one request
	// after the other.
	throughputClients = 32
)

// BenchmarkCreateAndApprove reports how many requests per second alice
// creates and bob approves (req/s), how long each create + approve took
// at that rate (p50, p99), and by when every one of them was Active; and
// the CPU time every process of the stack spent per request until then
// (cpu-ms/req, and each process's share in the log), with the rate that
// CPU cost allows on this machine's cores (cpu-bound-req/s): the clients
// never wait for each other, so a rate near that bound is the machine's,
// not Janus's waiting.
func BenchmarkCreateAndApprove(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCreateAndApprove(b, bed, false) })
	b.Run("postgres", func(b *testing.B) { benchCreateAndApprove(b, postgresTestbed(b), true) })
}

// benchCreateAndApprove measures tb, which stores in PostgreSQL when
// postgres is set: then the local PostgreSQL server's CPU is the stack's.
func benchCreateAndApprove(b *testing.B, tb *testenv.Testbed, postgres bool) {
	alice, bob, admin := testbedClient(b, tb, "alice"), testbedClient(b, tb, "bob"), testbedClient(b, tb, "admin")
	for b.Loop() {
		batch := rand.String(8)
		latencies := make([]time.Duration, throughputRequests)
		var next atomic.Int64
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		procs := stackProcesses(tb)
		cpuBefore := readStackCPU(b, procs, postgres)
		start := time.Now()
		targetClient, targetURL := targetDebugClient(b, tb, "dev")
		callsBefore := scrape(b, targetClient, targetURL+"/metrics")
		// With JANUS_BENCH_PROFILES, CPU profiles of the busiest two and
		// of the agent, whose calls the target's kube-apiserver serves.
		profiled := []func(){
			profileCPU(b, "janus-apiserver", janusDebugClientOf(b, tb), "https://"+tb.JanusAddress(), "create-approve", 10*time.Second),
			profileCPU(b, "dev-kube-apiserver", targetClient, targetURL, "create-approve", 10*time.Second),
			profileCPU(b, "dev-janus-agent", http.DefaultClient, "http://"+tb.Target("dev").ProfilingAddress(), "create-approve", 10*time.Second),
		}
		for range throughputClients {
			wg.Go(func() {
				for {
					i := next.Add(1) - 1
					if i >= throughputRequests || failed.Load() != nil {
						return
					}
					begin := time.Now()
					if err := createAndApprove(alice, bob, batch); err != nil {
						failed.Store(&err)
						return
					}
					latencies[i] = time.Since(begin)
				}
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		for _, wait := range profiled {
			wait()
		}
		if err := failed.Load(); err != nil {
			b.Fatal(*err)
		}
		allActive := waitBatch(b, admin, batch, "Active", func(ar *v1alpha1.AccessRequest) bool { return ar.Status.ActivatedAt != nil })
		cpu := cpuTimes{}
		cpu.addSince(cpuBefore, readStackCPU(b, procs, postgres))
		reportCPUPerRequest(b, cpu, throughputRequests)
		b.ReportMetric(float64(throughputRequests)/elapsed.Seconds(), "req/s")
		reportPercentiles(b, latencies)
		b.ReportMetric(allActive.Sub(start).Seconds(), "all-active-s")
		// The requests expire within seconds; the next iteration, and the
		// next benchmark, start once their grants are gone.
		waitBatch(b, admin, batch, "expired with the grant removed", func(ar *v1alpha1.AccessRequest) bool {
			return ar.Status.Phase == v1alpha1.AccessRequestExpired && !grantMayBeHeld(ar)
		})
		reportTargetCalls(b, callsBefore, scrape(b, targetClient, targetURL+"/metrics"), throughputRequests)
	}
}

// reportTargetCalls logs the calls the target's kube-apiserver served
// between before and after, per request, by verb and resource: over a
// whole lifecycle (grant, expiry, removal) they are the agent's, and
// kwok's few.
func reportTargetCalls(b *testing.B, before, after scraped, requests int) {
	b.Helper()
	const name = "apiserver_request_total"
	count := func(s scraped) map[string]float64 {
		calls := map[string]float64{}
		for _, sample := range s.Metrics[name] {
			m := sample.Metric
			what := string(m["verb"]) + " " + string(m["resource"])
			if sub := string(m["subresource"]); sub != "" {
				what += "/" + sub
			}
			if scope := string(m["scope"]); scope != "" {
				what += " (" + scope + ")"
			}
			calls[what] += float64(sample.Value)
		}
		return calls
	}
	was, is := count(before), count(after)
	var total float64
	perRequest := map[string]float64{}
	for what, n := range is {
		if d := (n - was[what]) / float64(requests); d > 0 {
			perRequest[what] = d
			total += d
		}
	}
	names := slices.Collect(maps.Keys(perRequest))
	slices.SortFunc(names, func(x, y string) int { return cmp.Or(cmp.Compare(perRequest[y], perRequest[x]), cmp.Compare(x, y)) })
	var lines []string
	for _, what := range names {
		if perRequest[what] >= 0.01 {
			lines = append(lines, fmt.Sprintf("%s %.2f", what, perRequest[what]))
		}
	}
	b.ReportMetric(total, "target-calls/req")
	b.Logf("target kube-apiserver calls per request over its lifecycle: %.2f (%s)", total, strings.Join(lines, ", "))
}

// batchLabel marks the requests of one throughput batch.
const batchLabel = "soak.janus.infroware.io/batch"

func createAndApprove(alice, bob versioned.Interface, batch string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ar, err := alice.JanusV1alpha1().AccessRequests().Create(ctx, &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "soak-", Labels: map[string]string{batchLabel: batch}},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: "dev", Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: 5 * time.Second}, Reason: "soak throughput",
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("alice creating a request: %w", err)
	}
	if _, err := bob.JanusV1alpha1().AccessRequests().Approve(ctx, ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("bob approving %s: %w", ar.Name, err)
	}
	return nil
}

// waitBatch waits until every request of the batch is what done says,
// and returns when that was first seen.
func waitBatch(b *testing.B, admin versioned.Interface, batch, what string, done func(*v1alpha1.AccessRequest) bool) time.Time {
	b.Helper()
	var left int
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := admin.JanusV1alpha1().AccessRequests().List(ctx, metav1.ListOptions{LabelSelector: batchLabel + "=" + batch})
		if err != nil {
			return false, nil
		}
		left = throughputRequests - len(list.Items)
		for i := range list.Items {
			if !done(&list.Items[i]) {
				left++
			}
		}
		return left == 0, nil
	})
	if err != nil {
		b.Fatalf("%d of %d requests of batch %s not %s within 3 minutes", left, throughputRequests, batch, what)
	}
	return time.Now()
}

// grantMayBeHeld is the Provisioned condition short of "removed".
func grantMayBeHeld(ar *v1alpha1.AccessRequest) bool {
	for _, c := range ar.Status.Conditions {
		if c.Type == v1alpha1.ConditionProvisioned {
			return c.Status != metav1.ConditionFalse
		}
	}
	return false
}

func testbedClient(b *testing.B, tb *testenv.Testbed, user string) versioned.Interface {
	b.Helper()
	cfg, err := tb.RESTConfigFor(user)
	if err != nil {
		b.Fatal(err)
	}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

var (
	postgresBedOnce sync.Once
	postgresBed     *testenv.Testbed
	postgresBedErr  error
)

// postgresTestbed starts, once per run, a second testbed like bed whose
// janus-apiserver stores in a fresh PostgreSQL database; both go when the
// benchmark binary's benchmarks are done.
func postgresTestbed(b *testing.B) *testenv.Testbed {
	b.Helper()
	postgresBedOnce.Do(func() { postgresBed, postgresBedErr = startPostgresTestbed() })
	if postgresBedErr != nil {
		b.Fatal(postgresBedErr)
	}
	return postgresBed
}

func startPostgresTestbed() (*testenv.Testbed, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dsn, drop, err := testenv.CreatePostgresDatabase(ctx, testenv.PostgresURL(), "janus_soak")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "janus-e2e-postgres-")
	if err != nil {
		return nil, err
	}
	endpointFile := filepath.Join(dir, "datastore-endpoint")
	if err := os.WriteFile(endpointFile, []byte(dsn), 0o600); err != nil {
		return nil, err
	}
	tb, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: filepath.Join(dir, "testbed"), RepoRoot: repoRoot, Binaries: binaries, Progress: os.Stderr,
		JanusArgs: append([]string{"--datastore-endpoint-file=" + endpointFile}, testbedJanusArgs...),
		Targets:   []testenv.TargetSpec{{Name: "dev"}},
	})
	if err != nil {
		return nil, fmt.Errorf("starting the PostgreSQL testbed: %w", err)
	}
	afterBenchmarks(func() {
		if err := tb.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: stopping the PostgreSQL testbed: %v\n", err)
		}
		_ = os.RemoveAll(dir)
		drop()
	})
	return tb, nil
}

// stackProcesses are the last started of each of tb's processes, and the
// benchmark itself (the clients).
func stackProcesses(tb *testenv.Testbed) []testenv.ProcessInfo {
	last := map[string]int{}
	var procs []testenv.ProcessInfo
	for _, p := range tb.Processes() {
		if i, ok := last[p.Name]; ok {
			procs[i] = p
			continue
		}
		last[p.Name] = len(procs)
		procs = append(procs, p)
	}
	return append(procs, testenv.ProcessInfo{Name: benchProcessName})
}

// postgresProcess is PostgreSQL among the measured processes: every
// process of the local server, whichever testbed stores there.
const postgresProcess = "postgres"

// readStackCPU reads the CPU time of procs and, with postgres, of the
// local PostgreSQL server's processes (other users of that server, if
// any, are counted too).
func readStackCPU(b *testing.B, procs []testenv.ProcessInfo, postgres bool) cpuTimes {
	b.Helper()
	t := readCPU(b, procs)
	if !postgres {
		return t
	}
	d, err := postgresCPU()
	if err != nil {
		b.Fatalf("reading the CPU time of PostgreSQL: %v", err)
	}
	t[postgresProcess] = d
	return t
}

// postgresCPU is the CPU time of every postgres process, with what the
// backends that ended left in their postmaster's cutime and cstime.
func postgresCPU() (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // ended since the listing
		}
		open, end := strings.IndexByte(string(data), '('), strings.LastIndexByte(string(data), ')')
		if open < 0 || end < open || string(data[open+1:end]) != "postgres" {
			continue
		}
		fields := strings.Fields(string(data[end+1:]))
		if len(fields) < 15 {
			continue
		}
		for _, f := range fields[11:15] { // utime, stime, cutime, cstime
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
			}
			total += time.Duration(n) * clockTick
		}
	}
	return total, nil
}

// reportCPUPerRequest reports the stack's CPU time per request and the
// rate it bounds on this machine, and logs each process's share.
func reportCPUPerRequest(b *testing.B, cpu cpuTimes, requests int) {
	b.Helper()
	var total time.Duration
	names := make([]string, 0, len(cpu))
	for name, d := range cpu {
		total += d
		names = append(names, name)
	}
	slices.SortFunc(names, func(x, y string) int { return cmp.Compare(cpu[y], cpu[x]) })
	perRequest := total / time.Duration(requests)
	bound := float64(runtime.NumCPU()) / perRequest.Seconds()
	b.ReportMetric(float64(perRequest)/float64(time.Millisecond), "cpu-ms/req")
	b.ReportMetric(bound, "cpu-bound-req/s")
	var shares []string
	for _, name := range names {
		if d := cpu[name]; d > 0 {
			shares = append(shares, fmt.Sprintf("%s %.2f ms", name, float64(d/time.Duration(requests))/float64(time.Millisecond)))
		}
	}
	b.Logf("CPU per create + approve until Active: %.2f ms over %d processes (%s); %d cores bound the rate to %.0f req/s", float64(perRequest)/float64(time.Millisecond), len(shares), strings.Join(shares, ", "), runtime.NumCPU(), bound)
}
