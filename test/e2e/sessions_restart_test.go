package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
)

// These tests kill or restart janus-apiserver, so like the fault tests
// they are not parallel: Go runs them before any parallel test starts.

// tickLines gathers a session's "tick N" lines as they arrive.
type tickLines struct {
	mu    sync.Mutex
	lines []timedLine
}

func (l *tickLines) take(lines <-chan timedLine) {
	for line := range lines {
		l.mu.Lock()
		l.lines = append(l.lines, line)
		l.mu.Unlock()
	}
}

// before returns the lines that had arrived before t.
func (l *tickLines) before(t time.Time) []timedLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var got []timedLine
	for _, line := range l.lines {
		if line.at.Before(t) {
			got = append(got, line)
		}
	}
	return got
}

// onlySession waits for the request's one Session to be in phase.
func onlySession(t *testing.T, request string, phase v1alpha1.SessionPhase) v1alpha1.Session {
	t.Helper()
	var s v1alpha1.Session
	eventually(t, "the session is "+string(phase), func() error {
		sessions, err := requestSessions(t, request)
		if err != nil {
			return err
		}
		if len(sessions) != 1 || sessions[0].Status.Phase != phase {
			return fmt.Errorf("sessions %+v, want one %s", sessions, phase)
		}
		s = sessions[0]
		return nil
	})
	return s
}

// TestSessionsSurviveAJanusKillAsClosedRecords: janus-apiserver is killed
// (SIGKILL) while a session prints a line every 100 ms; when it starts
// again it closes the Session it left open, with the restart as the
// reason, seals the recording with the digest the Session keeps, and the
// recording holds every line the client had received up to a second
// before the kill.
func TestSessionsSurviveAJanusKillAsClosedRecords(t *testing.T) {
	ar := activeRequest(t, time.Hour, "payments")
	lines := make(chan timedLine, 1024)
	var got tickLines
	gathered := make(chan struct{})
	go func() {
		defer close(gathered)
		got.take(lines)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ended := make(chan error, 1)
	go func() {
		// At most a minute, so that nothing outlives the test if the
		// process is not cut with the stream.
		ended <- streamAs(ctx, "alice", ar.Name, remotecommand.StreamOptions{Stdout: &lineWriter{lines: lines}},
			"sh", "-c", `i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo "tick $i"; sleep 0.1; done`)
		close(lines)
	}()

	// Three seconds of output: a header and a few chunks are stored.
	eventually(t, "the session prints its ticks", func() error {
		if n := len(got.before(time.Now())); n < 30 {
			return fmt.Errorf("%d ticks so far", n)
		}
		return nil
	})
	open := onlySession(t, ar.Name, v1alpha1.SessionOpen)
	killed := time.Now()
	if err := bed.KillJanus(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ended:
		t.Logf("the client's stream ended with the kill: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatalf("the client's stream outlived janus-apiserver by 30s")
	}
	<-gathered
	restarted := time.Now()
	if err := bed.StartJanus(bg(t)); err != nil {
		t.Fatalf("restarting janus-apiserver: %v", err)
	}
	ready := time.Since(restarted)
	if err := bed.Target("dev").WaitConnected(bg(t), true); err != nil {
		t.Fatal(err)
	}

	// Within conditionTimeout of the restart.
	s := onlySession(t, ar.Name, v1alpha1.SessionClosed)
	closedAfter := time.Since(restarted)
	st := s.Status
	if st.EndReason != sessionregistry.RestartReason {
		t.Errorf("endReason %q, want %q", st.EndReason, sessionregistry.RestartReason)
	}
	if st.Server != open.Status.Server || st.Server == "" {
		t.Errorf("server %q, want the replica's own %q", st.Server, open.Status.Server)
	}
	if st.Recording == nil || st.Recording.SHA256 == "" {
		t.Fatalf("status.recording %+v, want a digest", st.Recording)
	}

	store := recordingStore(t)
	doc, err := recording.Read(bg(t), store, s.Name)
	if err != nil {
		t.Fatalf("reading the recording: %v", err)
	}
	if sum := sha256.Sum256(doc); hex.EncodeToString(sum[:]) != st.Recording.SHA256 || int64(len(doc)) != st.Recording.Size {
		t.Errorf("the recording is %d bytes hashing to %x; the Session says %d bytes, %s", len(doc), sum, st.Recording.Size, st.Recording.SHA256)
	}
	if sealed, err := recording.Closed(bg(t), store, s.Name); err != nil || !sealed {
		t.Errorf("the recording is sealed: %v, %v; want true", sealed, err)
	}
	verified, err := recording.Verify(bg(t), store, s.Name, st.Recording.SHA256)
	if err != nil {
		t.Errorf("verifying the recording against the Session's digest: %v", err)
	}
	h, events, err := recording.Parse(doc)
	if err != nil {
		t.Fatalf("parsing the recording: %v", err)
	}
	out := recording.Output(events)
	if int64(len(out)) != st.BytesOut {
		t.Errorf("bytesOut %d, the recording holds %d bytes of output", st.BytesOut, len(out))
	}

	// The recording holds the ticks in order, from the first.
	recorded := strings.Split(strings.TrimSuffix(strings.ReplaceAll(string(out), "\r", ""), "\n"), "\n")
	for i, line := range recorded {
		if want := fmt.Sprintf("tick %d", i+1); line != want {
			t.Fatalf("recorded line %d is %q, want %q", i+1, line, want)
		}
	}
	if !bytes.HasSuffix(out, []byte("\n")) {
		t.Errorf("the recording ends in the middle of a line: %q", out[max(0, len(out)-20):])
	}
	all := got.before(killed.Add(time.Minute))
	var lastRecorded time.Time
	if n := len(recorded); n > 0 && n <= len(all) {
		lastRecorded = all[n-1].at
	}
	lost := killed.Sub(lastRecorded)
	t.Logf("the client read %d ticks, the last %s before the kill; the recording holds %d (%d bytes, %d chunks), the last read %s before the kill; ready %s and closed %s after the restart",
		len(all), killed.Sub(all[len(all)-1].at).Round(time.Millisecond), len(recorded), len(doc), verified.Chunks,
		lost.Round(time.Millisecond), ready.Round(time.Millisecond), closedAfter.Round(time.Millisecond))
	if len(recorded) > len(all) {
		t.Errorf("the recording holds %d ticks, more than the %d the client read", len(recorded), len(all))
	}
	if lost > 1500*time.Millisecond {
		t.Errorf("the recording lost the output of the last %s before the kill, want at most about a second (the chunk interval)", lost.Round(time.Millisecond))
	}

	// endedAt is the last recorded event (whole seconds in the API), not
	// the restart.
	if lastRecorded.IsZero() {
		t.Fatalf("no tick recorded")
	}
	if d := st.EndedAt.Sub(lastRecorded); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("endedAt %s is %s from the last recorded tick (%s), want within 2s", st.EndedAt.UTC(), d, lastRecorded.UTC())
	}
	if h.Janus.Request != ar.Name || h.Janus.User != "alice" {
		t.Errorf("header %+v", h.Janus)
	}
	eventually(t, "the request no longer counts the session as active", func() error {
		got, err := janusAs(t, "admin").JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got.Status.ActiveSessions != 0 || got.Status.TotalSessions != 1 {
			return fmt.Errorf("activeSessions %d, totalSessions %d; want 0 and 1", got.Status.ActiveSessions, got.Status.TotalSessions)
		}
		return nil
	})
}

// TestSessionRetentionOutlivesTheRequestThenDeletesTheRecord: deleting
// the request leaves its Session and recording; janus-apiserver started
// with --session-retention=2s deletes both once the session has been
// closed for longer.
func TestSessionRetentionOutlivesTheRequestThenDeletesTheRecord(t *testing.T) {
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	if out, errOut, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "echo", "kept for a while"); err != nil || out != "kept for a while\n" {
		t.Fatalf("exec: %q, %v (stderr %q)", out, err, errOut)
	}
	id := endedSessionRecording(t, ar.Name)
	store := recordingStore(t)
	location := store.Location(id)

	requests := janusAs(t, "admin").JanusV1alpha1().AccessRequests()
	if err := requests.Delete(bg(t), ar.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting the request: %v", err)
	}
	eventually(t, "the request is gone", func() error {
		_, err := requests.Get(bg(t), ar.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	sessions := janusAs(t, "admin").JanusV1alpha1().Sessions()
	s, err := sessions.Get(bg(t), id, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the Session went with its request: %v", err)
	}
	if _, err := os.Stat(location); err != nil {
		t.Fatalf("the recording went with its request: %v", err)
	}

	// Restarted once the session has been closed for longer than the
	// retention (endedAt has whole seconds), the sweep at start finds it.
	if wait := time.Until(s.Status.EndedAt.Add(3 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	restartJanusWith(t, "--session-retention=2s")
	eventually(t, "the Session and its recording are deleted", func() error {
		if _, err := sessions.Get(bg(t), id, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("Session %s: %v, want not found", id, err)
		}
		if _, err := os.Stat(location); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("recording %s: %v, want gone", location, err)
		}
		return nil
	})
}
