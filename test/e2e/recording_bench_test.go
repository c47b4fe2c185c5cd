package e2e

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// unrecordedFlags make janus-apiserver run sessions unrecorded: a store
// whose directory opens but takes no recording, and
// --recording-failure=continue. For measuring recording's cost only.
var unrecordedFlags = []string{"--recording-store=/proc/self", "--recording-failure=continue"}

// BenchmarkRecordingOnVersusOff measures bulk exec throughput through the
// aggregator, Janus and the agent with the same binary recording and not,
// in on/off/on/off phases so that a busy moment of the machine falls on
// both alike, for two outputs of 64 MiB: text (yes | head, what terminals
// mostly carry) and NULs (head -c /dev/zero, asciicast's worst case: JSON
// writes every NUL as \u0000, six bytes).
//
//	go test ./test/e2e -run '^$' -bench RecordingOnVersusOff -benchtime 1x
func BenchmarkRecordingOnVersusOff(b *testing.B) {
	request := activeRequest(b, time.Hour, "payments").Name
	p := janusExecPath(b, request)
	outputs := []struct{ name, command string }{
		{"text", "yes 0123456789abcdefghijklmnopqrstuvwxyz | head -c " + strconv.Itoa(bulkBytes)},
		{"nul", "head -c " + strconv.Itoa(bulkBytes) + " /dev/zero"},
	}
	took := map[string]time.Duration{}
	runs := map[string]int{}
	for b.Loop() {
		for phase, mode := range []string{"on", "off", "on", "off"} {
			flags := []string(nil)
			if mode == "off" {
				flags = unrecordedFlags
			}
			if phase > 0 {
				if err := bed.RestartJanus(bg(b), flags...); err != nil {
					b.Fatal(err)
				}
			}
			waitForExec(b, p)
			for range 2 {
				for _, o := range outputs {
					wait := profileJanusCPU(b, "recording-"+o.name+"-"+mode)
					took[o.name+"-"+mode] += bulkCommand(b, p, "sh", "-c", o.command)
					wait()
					runs[o.name+"-"+mode]++
				}
			}
		}
	}
	if err := bed.RestartJanus(bg(b)); err != nil {
		b.Fatal(err)
	}
	waitForExec(b, p)
	mibps := func(key string) float64 {
		return float64(runs[key]) * bulkBytes / (1 << 20) / took[key].Seconds()
	}
	var report []string
	for _, o := range outputs {
		on, off := mibps(o.name+"-on"), mibps(o.name+"-off")
		b.ReportMetric(on, o.name+"-recording-on-MiB/s")
		b.ReportMetric(off, o.name+"-recording-off-MiB/s")
		b.ReportMetric(on/off, o.name+"-on/off-throughput-ratio")
		report = append(report, fmt.Sprintf("%s: recording on %.1f MiB/s, off %.1f MiB/s, ratio %.3f (%d sessions each)", o.name, on, off, on/off, runs[o.name+"-on"]))
	}
	b.Log("bulk exec through Janus: " + strings.Join(report, "; "))
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
