package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/infroware/janus/internal/testenv"
)

// unrecordedFlags make janus-apiserver run sessions unrecorded: a store
// whose directory opens but takes no recording, and
// --recording-failure=continue. For measuring recording's cost only.
var unrecordedFlags = []string{"--recording-store=/proc/self", "--recording-failure=continue"}

const (
	// recordingPhases are the order the two modes run in, each phase
	// after a restart of janus-apiserver (a mode kept from one phase to
	// the next needs none): on and off alike take the machine's busy and
	// quiet moments, and the drift of a long run cancels out.
	recordingPhases = "on off off on on off"
	// bulkPerPhase bulk sessions and rttPerPhase round trips (after one
	// that pays for the session's set-up) are timed in every phase.
	bulkPerPhase = 2
	rttPerPhase  = 100
)

// pipelineProcesses are the testbed's processes on an exec session's path;
// the benchmark itself (the client) is counted too.
var pipelineProcesses = []string{"kube-apiserver", "janus-apiserver", "dev-janus-agent", "dev-kube-apiserver", "dev-kwok"}

// BenchmarkRecordingOnVersusOff measures exec through the aggregator,
// Janus and the agent with the same binary recording (into its default
// directory store) and not, side by side in one run, and reports for each
// mode the bulk throughput (64 MiB of output, MB/s-on and MB/s-off, from
// the first byte to the end), their ratio, the CPU per KiB of that output
// of janus-apiserver and of every process on the path (cpu-ratio, off/on,
// is what the throughput ratio would be if the machine were only busy with
// the session: other work on it moves the throughput, not the CPU), and
// for text the round trip of one byte typed and
// echoed by cat (p50 and p99). The goal is a ratio ≥ 0.95.
//
// text, the headline, is what terminals carry: `cat` of a colour
// `ls -laR /usr` (file names, escape sequences, a newline every 55 bytes
// or so). nul (head -c of /dev/zero) is the worst case, not a terminal's:
// JSON writes every NUL as \u0000, six bytes, so each byte of output is
// six to encode, hash and store.
//
//	go test ./test/e2e -run '^$' -bench RecordingOnVersusOff -benchtime 1x
//
// With JANUS_BENCH_PROFILES=<dir> it keeps janus-apiserver's CPU profile
// of the first second of every bulk session (`go tool pprof -top`).
func BenchmarkRecordingOnVersusOff(b *testing.B) {
	request := activeRequest(b, time.Hour, "payments").Name
	p := janusExecPath(b, request)
	text := terminalOutputFile(b)
	recording := true
	b.Cleanup(func() {
		if !recording {
			if err := bed.RestartJanus(context.Background()); err != nil {
				b.Errorf("restarting janus-apiserver with its usual flags: %v", err)
			}
		}
	})
	outputs := []struct {
		name, command string
		rtt           bool
	}{
		{"text", "cat " + text, true},
		{"nul", "head -c " + strconv.Itoa(bulkBytes) + " /dev/zero", false},
	}
	for _, o := range outputs {
		b.Run(o.name, func(b *testing.B) {
			results := map[bool]*pathResult{true: {cpu: cpuTimes{}}, false: {cpu: cpuTimes{}}}
			for b.Loop() {
				for _, mode := range bytes.Fields([]byte(recordingPhases)) {
					on := string(mode) == "on"
					if on != recording {
						flags := unrecordedFlags
						if on {
							flags = nil
						}
						if err := bed.RestartJanus(bg(b), flags...); err != nil {
							b.Fatal(err)
						}
						recording = on
					}
					waitForExec(b, p)
					r := results[on]
					if o.rtt {
						echo := openEcho(b, p)
						for n := range rttPerPhase + 1 {
							if rtt := echo.roundTrip(b); n > 0 {
								r.rtts = append(r.rtts, rtt)
							}
						}
						echo.close()
					}
					// The restart made a new janus-apiserver.
					procs := append(testbedProcesses(b, pipelineProcesses...), testenv.ProcessInfo{Name: benchProcessName})
					for range bulkPerPhase {
						before := readCPU(b, procs)
						profiled := profileJanusCPU(b, "recording-"+o.name+"-"+string(mode))
						r.bulk += bulkCommand(b, p, "sh", "-c", o.command)
						profiled()
						r.cpu.addSince(before, readCPU(b, procs))
						r.bulkBytes += bulkBytes
					}
				}
			}
			reportRecordingCost(b, o.name, results[true], results[false])
		})
	}
}

// reportRecordingCost reports both modes side by side, and logs them with
// the goal.
func reportRecordingCost(b *testing.B, output string, on, off *pathResult) {
	mbps := func(r *pathResult) float64 { return float64(r.bulkBytes) / 1e6 / r.bulk.Seconds() }
	ratio := mbps(on) / mbps(off)
	b.ReportMetric(mbps(on), "MB/s-on")
	b.ReportMetric(mbps(off), "MB/s-off")
	b.ReportMetric(ratio, "ratio")
	total := func(r *pathResult) float64 {
		var sum float64
		for name := range r.cpu {
			sum += r.cpuPerKiB(name)
		}
		return sum
	}
	b.ReportMetric(on.cpuPerKiB("janus-apiserver"), "janus-cpu-ns/KiB-on")
	b.ReportMetric(off.cpuPerKiB("janus-apiserver"), "janus-cpu-ns/KiB-off")
	b.ReportMetric(total(on), "cpu-ns/KiB-on")
	b.ReportMetric(total(off), "cpu-ns/KiB-off")
	b.ReportMetric(total(off)/total(on), "cpu-ratio")
	b.ReportMetric(0, "ns/op")
	log := fmt.Sprintf("%s through Janus: recording on %.1f MB/s, off %.1f MB/s, ratio %.3f (goal ≥ 0.95: %s); CPU of every process on the path %.0f ns/KiB on, %.0f off (ratio %.3f), of janus-apiserver %.0f on, %.0f off (%d sessions of %d MiB each)",
		output, mbps(on), mbps(off), ratio, verdict(ratio >= 0.95), total(on), total(off), total(off)/total(on),
		on.cpuPerKiB("janus-apiserver"), off.cpuPerKiB("janus-apiserver"), on.bulkBytes/bulkBytes, bulkBytes>>20)
	if len(on.rtts) > 0 {
		slices.Sort(on.rtts)
		slices.Sort(off.rtts)
		b.ReportMetric(on.rttPercentile(50), "rtt-p50-on-us")
		b.ReportMetric(off.rttPercentile(50), "rtt-p50-off-us")
		b.ReportMetric(on.rttPercentile(99), "rtt-p99-on-us")
		b.ReportMetric(off.rttPercentile(99), "rtt-p99-off-us")
		log += fmt.Sprintf("; round trip p50 %.0f µs on, %.0f off, p99 %.0f on, %.0f off (%d each)",
			on.rttPercentile(50), off.rttPercentile(50), on.rttPercentile(99), off.rttPercentile(99), len(on.rtts))
	}
	b.Log(log)
}

// terminalOutputFile is a file of bulkBytes of real terminal output for
// the target's commands (kwok runs them on this machine) to cat: a colour
// `ls -laR /usr`, repeated.
func terminalOutputFile(b *testing.B) string {
	b.Helper()
	var listing bytes.Buffer
	ls := exec.Command("ls", "-laR", "--color=always", "/usr")
	ls.Stdout = &limitedBuffer{&listing, 16 << 20}
	_ = ls.Run() // unreadable directories make ls fail after it wrote the rest
	if listing.Len() < 1<<20 {
		b.Fatalf("ls -laR /usr wrote only %d bytes", listing.Len())
	}
	out := make([]byte, 0, bulkBytes)
	for len(out) < bulkBytes {
		out = append(out, listing.Bytes()[:min(listing.Len(), bulkBytes-len(out))]...)
	}
	path := filepath.Join(b.TempDir(), "terminal-output.txt")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// limitedBuffer keeps the first n bytes written to it and then fails.
type limitedBuffer struct {
	buf *bytes.Buffer
	n   int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if w.buf.Len()+len(p) > w.n {
		w.buf.Write(p[:w.n-w.buf.Len()])
		return 0, io.ErrShortWrite
	}
	return w.buf.Write(p)
}

// bulkCommand runs a command whose stdout is bulkBytes and returns the
// time from its first byte to its end.
func bulkCommand(b *testing.B, p execPath, command ...string) time.Duration {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var w bulkWriter
	err := p.stream(ctx, remotecommand.StreamOptions{Stdout: &w}, command...)
	end := time.Now()
	if err != nil || w.n.Load() != bulkBytes {
		b.Fatalf("%s: bulk read %d of %d bytes: %v", p.name, w.n.Load(), bulkBytes, err)
	}
	return end.Sub(*w.first.Load())
}

// waitForExec waits until a session opens through p: after a restart the
// agent's tunnel comes back a moment after the Cluster says connected.
func waitForExec(b *testing.B, p execPath) {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := p.stream(ctx, remotecommand.StreamOptions{Stdout: io.Discard}, "true")
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("no session opened within 30s of the restart: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // polling the restarted server
	}
}
