package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
)

// recordingStore is janus-apiserver's default recording store: the
// directory under its --data-dir.
func recordingStore(t *testing.T) *recording.DirStore {
	t.Helper()
	s, err := recording.NewDirStore(filepath.Join(bed.WorkDir(), "janus-data", "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// endedSessionRecording waits for the request's only session to end and
// returns its recording's ID (the Session's name, <request>-<id>).
func endedSessionRecording(t *testing.T, name string) string {
	t.Helper()
	var id string
	eventually(t, "the session is closed", func() error {
		sessions, err := requestSessions(t, name)
		if err != nil {
			return err
		}
		if len(sessions) != 1 || sessions[0].Status.EndedAt == nil {
			return fmt.Errorf("sessions %+v, want one closed", sessions)
		}
		id = sessions[0].Name
		return nil
	})
	return id
}

// TestSessionRecordingHoldsWhatTheClientReceived runs a command in a kwok
// pod through the aggregator, Janus and the agent, with client-go's
// websocket executor as kubectl uses it: the recording's "o" events are
// byte for byte the stdout it read (256 KiB of random bytes, so anything
// but valid UTF-8), its digest is the sha256 of the document, it
// verifies, and altering one stored byte makes verify fail.
func TestSessionRecordingHoldsWhatTheClientReceived(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	out, errOut, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0",
		"sh", "-c", `printf 'janus-rec \377\376 \342\234\223\n'; head -c 262144 /dev/urandom`)
	if err != nil {
		t.Fatalf("exec through Janus: %v (stderr %q)", err, errOut)
	}
	if !strings.HasPrefix(out, "janus-rec \xff\xfe ✓\n") || len(out) != len("janus-rec \xff\xfe ✓\n")+262144 {
		t.Fatalf("stdout is %d bytes starting %q", len(out), out[:min(len(out), 20)])
	}
	id := endedSessionRecording(t, ar.Name)
	store := recordingStore(t)
	doc, err := recording.Read(bg(t), store, id)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	h, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording: %v", err)
	}
	if got := recording.Output(events); !bytes.Equal(got, []byte(out)) {
		t.Errorf("the recording's output (%d bytes) differs from the %d bytes the client received", len(got), len(out))
	}
	if h.Janus.User != "alice" || h.Janus.Request != ar.Name || h.Janus.Cluster != "dev" || h.Janus.Pod != "payments-api-0" || !strings.HasPrefix(h.Command, "sh -c printf") {
		t.Errorf("header %+v", h)
	}
	v, err := recording.Verify(bg(t), store, id, "")
	if err != nil {
		t.Fatalf("verifying the recording: %v", err)
	}
	if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != v.SHA256 {
		t.Errorf("the recording's digest %s is not the sha256 of its document, %x", v.SHA256, sum)
	}
	chunk := filepath.Join(store.Location(id), "00000001.cast")
	data, err := os.ReadFile(chunk)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x04
	if err := os.WriteFile(chunk, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := recording.Verify(bg(t), store, id, v.SHA256); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("verifying after one stored byte changed: %v", err)
	}
}

// TestSessionRecordingMarksTheRevocation: a session cut by carol's
// revocation is recorded with the notice the user read, as output and as
// a marker.
func TestSessionRecordingMarksTheRevocation(t *testing.T) {
	t.Parallel()
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := openSession(ctx, t, ar.Name)
	if _, err := janusAs(t, "carol").JanusV1alpha1().AccessRequests().Revoke(bg(t), ar.Name, &v1alpha1.Revocation{Reason: "recording e2e"}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var res sessionResult
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the session was not cut within 30s of the revocation")
	}
	id := endedSessionRecording(t, ar.Name)
	doc, err := recording.Read(bg(t), recordingStore(t), id)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	_, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	const notice = "janus: access revoked by carol: recording e2e"
	var markers []string
	for _, ev := range events {
		if ev.Code == recording.CodeMarker {
			markers = append(markers, string(ev.Data))
		}
	}
	if len(markers) != 1 || markers[0] != notice {
		t.Errorf("markers %q; want [%q]", markers, notice)
	}
	out := string(recording.Output(events))
	if !strings.HasPrefix(out, "started\n") || !strings.Contains(out, notice) || !strings.Contains(res.stderr, notice) {
		t.Errorf("recorded output %q, stderr %q; want the command's output and the notice in both", out, res.stderr)
	}
	if _, err := recording.Verify(bg(t), recordingStore(t), id, ""); err != nil {
		t.Errorf("verifying: %v", err)
	}
}

// TestSessionThatCannotBeRecordedIsRefusedWithItsReason: janus-apiserver with a
// recording store that takes nothing refuses the session with a 503 that
// says why.
func TestSessionThatCannotBeRecordedIsRefusedWithItsReason(t *testing.T) {
	ar := activeRequest(t, time.Hour, "payments")
	restartJanusWith(t, "--recording-store=/proc/self")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	_, _, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "echo", "must-not-run")
	if err == nil || !strings.Contains(err.Error(), "the session cannot be recorded, and Janus runs no session it cannot record") {
		t.Fatalf("exec with a store that takes nothing: %v", err)
	}
}
