package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
)

// What the benchmarks read about the processes they measure: CPU time from
// /proc, live heap from the processes' own pprof endpoints.

// clockTick is the unit of utime and stime in /proc/<pid>/stat:
// sysconf(_SC_CLK_TCK), 100 on Linux.
const clockTick = 10 * time.Millisecond

// benchProcessName is the benchmark itself among the measured processes.
const benchProcessName = "bench"

// testbedProcesses are the running testbed components called names, the
// last one started of each (a fault test may have restarted one).
func testbedProcesses(b *testing.B, names ...string) []testenv.ProcessInfo {
	b.Helper()
	procs := bed.Processes()
	var found []testenv.ProcessInfo
	for _, name := range names {
		i := len(procs) - 1
		for ; i >= 0 && procs[i].Name != name; i-- {
		}
		if i < 0 {
			b.Fatalf("the testbed runs no %s", name)
		}
		found = append(found, procs[i])
	}
	return found
}

// cpuTimes is CPU time used so far, user and system, by process name.
type cpuTimes map[string]time.Duration

// readCPU reads utime+stime of every process; for benchProcessName it
// reads its own.
func readCPU(b *testing.B, procs []testenv.ProcessInfo) cpuTimes {
	b.Helper()
	t := cpuTimes{}
	for _, p := range procs {
		pid := p.PID
		if p.Name == benchProcessName {
			pid = os.Getpid()
		}
		d, err := processCPU(pid)
		if err != nil {
			b.Fatalf("reading the CPU time of %s: %v", p.Name, err)
		}
		t[p.Name] = d
	}
	return t
}

// processCPU is utime+stime from /proc/<pid>/stat, threads that have
// ended included.
func processCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces;
	// the fields after it start with field 3, state.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat has %d fields after the name", pid, len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] { // fields 14 and 15: utime, stime
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parsing /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * clockTick, nil
}

// addSince adds to t what each process used between before and after.
func (t cpuTimes) addSince(before, after cpuTimes) {
	for name, d := range after {
		t[name] += d - before[name]
	}
}

// janusHeap is janus-apiserver's live heap after a forced GC, from the
// generic apiserver's /debug/pprof (on by default). It is read straight
// from janus-apiserver, not through the aggregator, with the testbed's
// administrator certificate: the same cluster CA signs it for every
// cluster, and janus-apiserver trusts that CA through the kube-apiserver's
// client-ca.
func janusHeap(b *testing.B) int64 {
	b.Helper()
	return heapAlloc(b, janusDebugClient(b), "https://"+bed.JanusAddress())
}

func janusDebugClient(b *testing.B) *http.Client {
	b.Helper()
	return janusDebugClientOf(b, bed)
}

// janusDebugClientOf reaches tb's janus-apiserver directly with the
// testbed's administrator certificate.
func janusDebugClientOf(b *testing.B, tb *testenv.Testbed) *http.Client {
	b.Helper()
	admin := tb.Target("dev").AdminConfig()
	client, err := rest.HTTPClientFor(&rest.Config{
		Host:            "https://" + tb.JanusAddress(),
		TLSClientConfig: rest.TLSClientConfig{CAFile: tb.JanusCAFile(), CertFile: admin.CertFile, KeyFile: admin.KeyFile},
	})
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// targetDebugClient reaches the kube-apiserver of tb's target cluster
// with that cluster's administrator credentials: its serving certificate
// is signed by the cluster CA, which janus-apiserver's CA (what
// janusDebugClient trusts) is not.
func targetDebugClient(b *testing.B, tb *testenv.Testbed, cluster string) (*http.Client, string) {
	b.Helper()
	cfg := tb.Target(cluster).AdminConfig()
	client, err := rest.HTTPClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return client, cfg.Host
}

// profileJanusCPU keeps, if JANUS_BENCH_PROFILES names a directory, a
// CPU profile of janus-apiserver over the next second; wait for it with
// the function returned.
func profileJanusCPU(b *testing.B, label string) (wait func()) {
	b.Helper()
	if os.Getenv("JANUS_BENCH_PROFILES") == "" {
		return func() {}
	}
	return profileCPU(b, "janus-apiserver", janusDebugClient(b), "https://"+bed.JanusAddress(), label, time.Second)
}

// profileCPU keeps, if JANUS_BENCH_PROFILES names a directory, a CPU
// profile of the Go server at base (janus-apiserver or a kube-apiserver
// of the testbed), read with client, over the next d; wait for it with
// the function returned. A profile that cannot be taken is logged, and
// fails nothing.
func profileCPU(b *testing.B, process string, client *http.Client, base, label string, d time.Duration) (wait func()) {
	b.Helper()
	dir := os.Getenv("JANUS_BENCH_PROFILES")
	if dir == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := client.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, int(d.Seconds())))
		if err != nil {
			b.Logf("no CPU profile of %s: %v", process, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			b.Logf("no CPU profile of %s: %s: %s", process, resp.Status, body)
			return
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.cpu", process, label, time.Now().Format("150405.000")))
		f, err := os.Create(path)
		if err != nil {
			b.Logf("no CPU profile of %s: %v", process, err)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, resp.Body); err != nil {
			b.Logf("CPU profile of %s cut short: %v", process, err)
			return
		}
		b.Logf("CPU profile of %s in %s", process, path)
	}()
	return func() { <-done }
}

// agentHeap is the dev agent's live heap after a forced GC, from its
// --profiling-address.
func agentHeap(b *testing.B) int64 {
	b.Helper()
	return heapAlloc(b, http.DefaultClient, "http://"+bed.Target("dev").ProfilingAddress())
}

// heapAlloc asks a Go server's net/http/pprof for the heap profile after
// a GC; with debug=1 its text ends with runtime.MemStats, whose HeapAlloc
// is then the live heap.
func heapAlloc(b *testing.B, client *http.Client, base string) int64 {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/pprof/heap?gc=1&debug=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		b.Fatalf("reading the heap profile of %s: %v", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("reading the heap profile of %s: %s", base, resp.Status)
	}
	saveHeapProfile(b, client, base)
	for sc := bufio.NewScanner(resp.Body); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				b.Fatalf("parsing %q from %s: %v", sc.Text(), base, err)
			}
			return n
		}
	}
	b.Fatalf("the heap profile of %s has no HeapAlloc line", base)
	return 0
}

// saveHeapProfile keeps the binary heap profile of base in the directory
// JANUS_BENCH_PROFILES names, if any, for `go tool pprof` to say where a
// session's memory goes.
func saveHeapProfile(b *testing.B, client *http.Client, base string) {
	b.Helper()
	dir := os.Getenv("JANUS_BENCH_PROFILES")
	if dir == "" {
		return
	}
	resp, err := client.Get(base + "/debug/pprof/heap?gc=1")
	if err != nil {
		b.Fatalf("reading the heap profile of %s: %v", base, err)
	}
	defer resp.Body.Close()
	name := strings.NewReplacer("https://", "", "http://", "", ":", "_").Replace(base)
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s.heap", name, time.Now().Format("150405.000"))))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		b.Fatal(err)
	}
}
