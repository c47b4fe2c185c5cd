package e2e

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

var (
	// bed is the testbed every test of the package uses.
	bed *testenv.Testbed
	// repoRoot is the Janus repository, for the manifests under artifacts/.
	repoRoot string
	// kubectlCacheDir keeps kubectl's discovery cache out of $HOME.
	kubectlCacheDir string
	// binaries are what bed runs, for benchmarks that start a testbed of
	// their own.
	binaries testenv.Binaries
)

func TestMain(m *testing.M) {
	// The exec benchmark runs this binary again as its TLS relays.
	if spec := os.Getenv(benchRelayEnv); spec != "" {
		os.Exit(runBenchRelay(spec))
	}
	os.Exit(runTests(m))
}

// runTests builds the binaries, starts one testbed, runs the tests and
// stops it. When a test fails, the logs of every process (and the audit
// logs) are copied to _output/e2e-logs.
func runTests(m *testing.M) int {
	begin := time.Now()
	var err error
	if repoRoot, err = testenv.FindRepoRoot("."); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// An interrupt must not leave the control plane running: it aborts a
	// start in progress (which stops what it started), or stops the testbed.
	var started atomic.Pointer[testenv.Testbed]
	var workDir string // set before started, so the goroutine below sees it
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-interrupts
		fmt.Fprintln(os.Stderr, "e2e: interrupted; stopping the testbed")
		cancel()
		if b := started.Load(); b != nil {
			runAfterBenchmarks()
			_ = b.Stop()
			keepLogs(b.LogDir())
			_ = os.RemoveAll(workDir)
			os.Exit(2)
		}
	}()

	bins, err := testenv.BuildBinaries(ctx, repoRoot, filepath.Join(repoRoot, "_output", "e2e", "bin"), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot build the binaries the tests run: %v\n", err)
		return 1
	}
	binaries = bins
	workDir, err = os.MkdirTemp("", "janus-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer func() {
		if err := os.RemoveAll(workDir); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: removing %s: %v\n", workDir, err)
		}
	}()
	kubectlCacheDir = filepath.Join(workDir, "kubectl-cache")
	fmt.Fprintf(os.Stderr, "e2e: binaries ready after %s; starting the testbed in %s\n", time.Since(begin).Round(10*time.Millisecond), workDir)

	bed, err = testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: bins, Progress: os.Stderr,
		// Short requests let the expiry tests finish in seconds.
		JanusArgs: testbedJanusArgs,
		// The agent of dev refuses "restricted", which Janus itself allows.
		Targets: []testenv.TargetSpec{{Name: "dev", AgentExcludedNamespaces: []string{"restricted"}}},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the testbed: %v\n", err)
		keepLogs(filepath.Join(workDir, "logs"))
		return 1
	}
	started.Store(bed)
	for _, t := range bed.Timings() {
		fmt.Fprintf(os.Stderr, "e2e: startup %-24s %s\n", t.Name, t.Duration.Round(10*time.Millisecond))
	}

	code := m.Run()
	runAfterBenchmarks()

	stopBegin := time.Now()
	if err := bed.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the testbed: %v\n", err)
		code = 1
	}
	fmt.Fprintf(os.Stderr, "e2e: testbed stopped in %s; whole run %s\n", time.Since(stopBegin).Round(10*time.Millisecond), time.Since(begin).Round(10*time.Millisecond))
	if code != 0 || bed.Exited() != "" || os.Getenv("JANUS_E2E_KEEP_LOGS") != "" {
		keepLogs(bed.LogDir())
	}
	return code
}

var (
	afterMu  sync.Mutex
	afterRun []func()
)

// afterBenchmarks has stop run once every test and benchmark is done, for
// what a benchmark started that outlives it (a testbed of its own).
func afterBenchmarks(stop func()) {
	afterMu.Lock()
	defer afterMu.Unlock()
	afterRun = append(afterRun, stop)
}

func runAfterBenchmarks() {
	afterMu.Lock()
	defer afterMu.Unlock()
	for _, stop := range afterRun {
		stop()
	}
	afterRun = nil
}

// testbedJanusArgs are the janus-apiserver flags of every e2e testbed.
var testbedJanusArgs = []string{"--min-duration=5s"}

// keepLogs copies the testbed's logs to _output/e2e-logs/<time>.
func keepLogs(logDir string) {
	dest := filepath.Join(repoRoot, "_output", "e2e-logs", time.Now().Format("20060102-150405"))
	if err := os.MkdirAll(dest, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: keeping logs: %v\n", err)
		return
	}
	entries, err := os.ReadDir(logDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: keeping logs: %v\n", err)
		return
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(logDir, e.Name()))
		if err == nil {
			err = os.WriteFile(filepath.Join(dest, e.Name()), data, 0o644)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "e2e: keeping %s: %v\n", e.Name(), err)
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: logs of every process are in %s\n", dest)
}
