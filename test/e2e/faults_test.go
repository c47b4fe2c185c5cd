package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// The fault tests kill components of the shared testbed, so they are not
// parallel: Go runs them before any parallel test starts.

// TestAgentKilledWhileActive: the request still expires on time centrally;
// the grant goes when the agent comes back and reconciles.
func TestAgentKilledWhileActive(t *testing.T) {
	target := bed.Target("dev")
	ar := newRequest(t, 6*time.Second, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	if err := target.KillAgent(); err != nil {
		t.Fatal(err)
	}
	if err := target.WaitConnected(bg(t), false); err != nil {
		t.Fatal(err)
	}
	expired := waitForPhase(t, ar.Name, v1alpha1.AccessRequestExpired, 30*time.Second)
	if late := time.Since(active.Status.ExpiresAt.Time); late > 5*time.Second {
		t.Errorf("expired centrally %s after expiresAt with the agent down", late)
	}
	if meta.FindStatusCondition(expired.Status.Conditions, v1alpha1.ConditionProvisioned).Reason == "GrantRemoved" {
		t.Errorf("the grant is marked removed while the agent was down")
	}
	if len(grantObjects(t, ar.Name)) == 0 {
		t.Fatalf("the grant vanished with no agent to remove it")
	}
	if err := target.StartAgent(bg(t)); err != nil {
		t.Fatalf("restarting the agent: %v", err)
	}
	waitForNoGrant(t, ar.Name, 30*time.Second)
}

// TestJanusKilledBeforeExpiry: the expiry timer is re-armed from storage.
func TestJanusKilledBeforeExpiry(t *testing.T) {
	ar := newRequest(t, 10*time.Second, "payments")
	approveAs(t, "bob", ar.Name)
	active := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 30*time.Second)
	if err := bed.KillJanus(); err != nil {
		t.Fatal(err)
	}
	if err := bed.StartJanus(bg(t)); err != nil {
		t.Fatalf("restarting janus-apiserver: %v", err)
	}
	if err := bed.Target("dev").WaitConnected(bg(t), true); err != nil {
		t.Fatal(err)
	}
	expired := waitForPhase(t, ar.Name, v1alpha1.AccessRequestExpired, 30*time.Second)
	// Condition times have a resolution of one second.
	expiredAt := meta.FindStatusCondition(expired.Status.Conditions, v1alpha1.ConditionExpired).LastTransitionTime
	if late := expiredAt.Sub(active.Status.ExpiresAt.Time); late < 0 || late > 2*time.Second {
		t.Errorf("after a kill -9 and restart the request expired %s after expiresAt, want within 2s", late)
	}
	waitForNoGrant(t, ar.Name, 30*time.Second)
	t.Logf("after a kill -9 and restart: expired %s after expiresAt, grant gone %s after it",
		expiredAt.Sub(active.Status.ExpiresAt.Time), time.Since(active.Status.ExpiresAt.Time).Round(time.Millisecond))
}

// TestExecIdleSessionIsClosed restarts janus-apiserver with a short
// --idle-timeout: a silent session is warned, then closed, and says so.
func TestExecIdleSessionIsClosed(t *testing.T) {
	restartJanusWith(t, "--idle-timeout=4s")
	ar := activeRequest(t, time.Hour, "payments")
	ctx, cancel := context.WithTimeout(context.Background(), execDeadline)
	defer cancel()
	_, stderr, err := execAs(ctx, t, "alice", ar.Name, "payments", "payments-api-0", "sh", "-c", "echo started; sleep 40")
	// The terminal is warned, then told why the session closed; the exit
	// is a failure that says so too.
	assertEndSaysWhy(t, sessionResult{stderr: stderr, err: err}, "session closed after 4s idle")
	if !strings.Contains(stderr, "will be closed in 2s") {
		t.Errorf("stderr %q lacks the warning", stderr)
	}
	got := waitForPhase(t, ar.Name, v1alpha1.AccessRequestActive, 5*time.Second)
	eventually(t, "the session is recorded as idle", func() error {
		sessions, err := requestSessions(t, got.Name)
		if err != nil {
			return err
		}
		if len(sessions) != 1 || sessions[0].Status.EndReason != "idle" {
			return fmt.Errorf("sessions %+v, want one ended as idle", sessions)
		}
		return nil
	})
}

// restartJanusWith restarts janus-apiserver with flags added for the rest
// of the test, and with its usual flags once the test is done.
func restartJanusWith(t testing.TB, flags ...string) {
	t.Helper()
	if err := bed.RestartJanus(bg(t), flags...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := bed.RestartJanus(context.Background()); err != nil {
			t.Errorf("restarting janus-apiserver with its usual flags: %v", err)
		}
		if err := bed.Target("dev").WaitConnected(context.Background(), true); err != nil {
			t.Errorf("the agent did not reconnect: %v", err)
		}
	})
	if err := bed.Target("dev").WaitConnected(bg(t), true); err != nil {
		t.Fatal(err)
	}
}
