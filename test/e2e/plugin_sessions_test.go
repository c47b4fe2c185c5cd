package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
)

// TestPluginSessions runs kubectl-janus's session commands against real
// sessions of alice's, made through the aggregator, Janus and the agent:
// listing them, verifying and replaying their recordings, following one
// live and cutting one.
func TestPluginSessions(t *testing.T) {
	t.Parallel()
	p := buildPlugin(t)

	t.Run("ListsAlicesSession", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		runCommand(t, ar.Name, "echo", "plugin", "sessions")
		id := endedSessionRecording(t, ar.Name)

		out := p.mustRun(t, "alice", "sessions", ar.Name)
		if !containsAll(out, []string{"NAME", "REQUEST", "USER", "POD", "PHASE", "DURATION", "AGE", id, ar.Name, "alice", "payments/payments-api-0", "Closed"}) {
			t.Errorf("sessions %s lacks the server's columns or alice's session %s:\n%s", ar.Name, id, out)
		}
		if out := p.mustRun(t, "alice", "sessions", ar.Name, "-o", "wide"); !containsAll(out, []string{"CLUSTER", "COMMAND", "END REASON", "echo plugin sessions"}) {
			t.Errorf("sessions -o wide lacks the wide columns or the command:\n%s", out)
		}
		if out := p.mustRun(t, "admin", "sessions", "--user", "alice", "-o", "name"); !strings.Contains(out, "session.janus.infroware.io/"+id+"\n") {
			t.Errorf("sessions --user alice -o name lacks %s:\n%s", id, out)
		}
		if out := p.mustRun(t, "admin", "sessions", "--user", "carol", "-o", "name"); strings.Contains(out, id) {
			t.Errorf("sessions --user carol shows alice's %s:\n%s", id, out)
		}
		res := p.run(t, "alice", "sessions", ar.Name, "--open")
		if res.err != nil || strings.Contains(res.stdout, id) || !strings.Contains(res.stderr, "No sessions found.") {
			t.Errorf("sessions --open shows the closed %s, or does not say there is none: %v", id, res.err)
		}
		if out := p.mustRun(t, "alice", "sessions", ar.Name, "-o", "jsonpath={.items[0].status.recording.sha256}"); len(out) != 64 {
			t.Errorf("sessions -o jsonpath printed %q, want the recording's sha256", out)
		}
	})

	t.Run("VerifyPassesThenFailsAfterAStoredChunkChanged", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		runCommand(t, ar.Name, "sh", "-c", `seq 1 5000; printf 'not utf-8: \377\376\n'`)
		id := endedSessionRecording(t, ar.Name)

		out := p.mustRun(t, "bob", "verify", id)
		if !strings.HasPrefix(out, "session "+id+": recording verified (") || !strings.Contains(out, " events)") {
			t.Errorf("verify printed %q", out)
		}
		chunk := filepath.Join(recordingStore(t).Location(id), "00000001.cast")
		data, err := os.ReadFile(chunk)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0x01
		if err := os.WriteFile(chunk, data, 0o600); err != nil {
			t.Fatal(err)
		}
		res := p.run(t, "bob", "verify", id)
		expectFailure(t, res, "session "+id+": the recording does not verify", "its sha256 is ", ", the Session records ")
		expectExitCode(t, res, 1)
	})

	t.Run("PlayWritesTheSessionsOutput", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		stdout := runCommand(t, ar.Name, "sh", "-c", `for i in 1 2 3; do echo "play line $i"; sleep 0.5; done; printf '\377 raw\n'`)
		id := endedSessionRecording(t, ar.Name)

		// Not a terminal: written at once, exactly what the client read.
		begin := time.Now()
		if out := p.mustRun(t, "bob", "play", id, "--speed", "100"); out != stdout {
			t.Errorf("play wrote %q, want the session's output %q", out, stdout)
		}
		if took := time.Since(begin); took > 10*time.Second {
			t.Errorf("play took %s", took)
		}
		// The requester may replay their own session.
		if out := p.mustRun(t, "alice", "play", id); out != stdout {
			t.Errorf("play as alice wrote %q, want %q", out, stdout)
		}
		// --raw is the document itself, as sealed.
		doc := p.mustRun(t, "bob", "play", id, "--raw")
		se := sessionNamed(t, ar.Name, id)
		if sum := sha256.Sum256([]byte(doc)); se.Status.Recording == nil || hex.EncodeToString(sum[:]) != se.Status.Recording.SHA256 {
			t.Errorf("play --raw wrote %d bytes that are not the sealed recording %+v", len(doc), se.Status.Recording)
		}
		if _, events, err := recording.Parse([]byte(doc)); err != nil || string(recording.Output(events)) != stdout {
			t.Errorf("play --raw: %v; its output is not the session's", err)
		}
		res := p.run(t, "dave", "play", id)
		expectFailure(t, res, "Error from server (Forbidden)")
	})

	t.Run("TerminateCutsAHeldSessionAndTheUserReadsWhy", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		done := openSession(ctx, t, ar.Name)
		id := openSessionName(t, ar.Name)

		res := p.run(t, "bob", "terminate", id, "--reason", "")
		expectFailure(t, res, "is invalid", "reason")
		expectExitCode(t, res, 1)
		expectFailure(t, p.run(t, "alice", "terminate", id, "--reason", "mine"), "Error from server (Forbidden)")

		const reason = "plugin e2e: stop the migration"
		if out := p.mustRun(t, "bob", "terminate", id, "--reason", reason); out != "session "+id+" terminated\n" {
			t.Errorf("terminate printed %q", out)
		}
		select {
		case res := <-done:
			if res.err == nil || !strings.Contains(res.stderr, reason) {
				t.Errorf("the user's session ended with %v and stderr %q; want an error and the reason", res.err, res.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the session was not cut within 30s of terminate")
		}
		eventually(t, "the session is closed with the reason", func() error {
			se := sessionNamed(t, ar.Name, id)
			if se.Status.Phase != v1alpha1.SessionClosed || !strings.Contains(se.Status.EndReason, reason) {
				return fmt.Errorf("session is %s: %q", se.Status.Phase, se.Status.EndReason)
			}
			return nil
		})
		res = p.run(t, "bob", "terminate", id, "--reason", "again")
		expectFailure(t, res, "Error from server (Conflict)")
		expectExitCode(t, res, 1)
	})

	t.Run("FollowShowsARunningSessionUntilItEnds", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		// alice's own output tells which tick she has seen last.
		var aliceSaw atomic.Int64
		lines := make(chan timedLine, 100)
		go func() {
			for l := range lines {
				var n int64
				if _, err := fmt.Sscanf(l.text, "follow tick %d", &n); err == nil {
					aliceSaw.Store(n)
				}
			}
		}()
		ended := make(chan error, 1)
		go func() {
			ended <- streamAs(ctx, "alice", ar.Name, remotecommand.StreamOptions{Stdout: &lineWriter{lines: lines}, Stderr: io.Discard},
				"sh", "-c", `for i in $(seq 60); do echo "follow tick $i"; sleep 1; done`)
			close(lines)
		}()
		id := openSessionName(t, ar.Name)

		follow := p.start(t, "bob", "follow", id)
		// The recent output comes first, then ticks as they come: a tick
		// alice had not yet seen when follow printed its first line proves
		// follow is live.
		var before int64 = -1
		for {
			line := follow.nextLine(t)
			var n int64
			if _, err := fmt.Sscanf(line, "follow tick %d", &n); err != nil {
				t.Fatalf("follow printed %q, want the session's ticks", line)
			}
			if before < 0 {
				before = aliceSaw.Load()
			} else if n > before {
				break
			}
		}
		const reason = "plugin e2e: seen enough"
		p.mustRun(t, "bob", "terminate", id, "--reason", reason)
		res := follow.result(t)
		if res.err != nil {
			t.Fatalf("follow failed: %v\n%s", res.err, res.stderr)
		}
		if !strings.Contains(res.stdout, "[janus: ") || !strings.Contains(res.stdout, reason) {
			t.Errorf("follow did not show the notice of the termination:\n%s", res.stdout)
		}
		if !strings.Contains(res.stderr, "session "+id+" ended: ") || !strings.Contains(res.stderr, reason) {
			t.Errorf("follow did not say why the session ended:\n%s", res.stderr)
		}
		select {
		case <-ended:
		case <-time.After(30 * time.Second):
			t.Error("alice's session did not end within 30s of terminate")
		}
		// A closed session cannot be followed; follow says to play it.
		expectFailure(t, p.run(t, "bob", "follow", id), "is closed", "kubectl janus play "+id)
	})

	t.Run("CompletesSessionNames", func(t *testing.T) {
		t.Parallel()
		ar := activeRequest(t, time.Hour, "payments")
		runCommand(t, ar.Name, "true")
		id := endedSessionRecording(t, ar.Name)
		if out := p.mustRun(t, "bob", "__complete", "verify", ar.Name); !strings.Contains(out, id+"\tClosed alice dev payments/payments-api-0") || !strings.Contains(out, ":4") {
			t.Errorf("completing verify lacks %s:\n%s", id, out)
		}
		if out := p.mustRun(t, "bob", "__complete", "terminate", ar.Name); strings.Contains(out, id) {
			t.Errorf("completing terminate offers the closed %s:\n%s", id, out)
		}
	})
}

// runCommand runs command as alice through the request and returns its
// stdout.
func runCommand(t *testing.T, name string, command ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	out, errOut, err := execAs(ctx, t, "alice", name, "payments", "payments-api-0", command...)
	if err != nil {
		t.Fatalf("exec %v through Janus: %v (stderr %q)", command, err, errOut)
	}
	return out
}

// openSessionName waits for the request's session to be open and returns
// its name.
func openSessionName(t *testing.T, name string) string {
	t.Helper()
	var id string
	eventually(t, "the session is open", func() error {
		sessions, err := requestSessions(t, name)
		if err != nil {
			return err
		}
		for _, se := range sessions {
			if se.Status.Phase == v1alpha1.SessionOpen {
				id = se.Name
				return nil
			}
		}
		return errors.New("no open session yet")
	})
	return id
}

// sessionNamed is the request's session id.
func sessionNamed(t *testing.T, name, id string) v1alpha1.Session {
	t.Helper()
	sessions, err := requestSessions(t, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, se := range sessions {
		if se.Name == id {
			return se
		}
	}
	t.Fatalf("request %s has no session %s", name, id)
	return v1alpha1.Session{}
}
