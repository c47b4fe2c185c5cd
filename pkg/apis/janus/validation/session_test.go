package validation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/infroware/janus/pkg/apis/janus"
)

func openSession() *janus.Session {
	started := metav1.NewTime(time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC))
	return &janus.Session{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-x7k2p-abcdefghij", ResourceVersion: "1"},
		Spec: janus.SessionSpec{
			Request: "alice-x7k2p", Cluster: "dev", Namespace: "payments", Pod: "api-0",
			Command: []string{"sh"}, TTY: true, User: janus.SessionUser{Username: "alice", UID: "u-1"},
		},
		Status: janus.SessionStatus{Phase: janus.SessionOpen, StartedAt: &started, Server: "janus-0"},
	}
}

func TestValidateSession(t *testing.T) {
	if errs := ValidateSession(openSession()); len(errs) > 0 {
		t.Fatalf("a valid open session: %v", errs)
	}
	cases := map[string]struct {
		mutate func(*janus.Session)
		want   string
	}{
		"no request":    {func(s *janus.Session) { s.Spec.Request = "" }, "spec.request"},
		"no pod":        {func(s *janus.Session) { s.Spec.Pod = "" }, "spec.pod"},
		"no user":       {func(s *janus.Session) { s.Spec.User.Username = "" }, "spec.user.username"},
		"unknown phase": {func(s *janus.Session) { s.Status.Phase = "Paused" }, "status.phase"},
		"open with an end": {func(s *janus.Session) {
			end := metav1.NewTime(s.Status.StartedAt.Add(time.Minute))
			s.Status.EndedAt = &end
		}, "status.endedAt"},
		"closed without an end": {func(s *janus.Session) { s.Status.Phase = janus.SessionClosed }, "status.endedAt"},
		"no start":              {func(s *janus.Session) { s.Status.StartedAt = nil }, "status.startedAt"},
		"negative bytes":        {func(s *janus.Session) { s.Status.BytesOut = -1 }, "status.bytesOut"},
		"ends before it starts": {func(s *janus.Session) {
			s.Status.Phase = janus.SessionClosed
			end := metav1.NewTime(s.Status.StartedAt.Add(-time.Second))
			s.Status.EndedAt = &end
		}, "status.endedAt"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := openSession()
			tc.mutate(s)
			got := fieldsOf(ValidateSession(s))
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("errors on %v, want exactly %s", got, tc.want)
			}
		})
	}
}

func TestValidateSessionUpdate(t *testing.T) {
	old := openSession()
	closed := old.DeepCopy()
	end := metav1.NewTime(old.Status.StartedAt.Add(time.Minute))
	closed.Status.Phase, closed.Status.EndedAt, closed.Status.EndReason = janus.SessionClosed, &end, "command ended"
	if errs := ValidateSessionUpdate(closed, old); len(errs) > 0 {
		t.Fatalf("closing a session: %v", errs)
	}
	moved := closed.DeepCopy()
	moved.Spec.Pod = "api-1"
	if got := fieldsOf(ValidateSessionUpdate(moved, old)); len(got) != 1 || got[0] != "spec" {
		t.Errorf("changing the spec: errors on %v, want spec", got)
	}
	reopened := old.DeepCopy()
	if got := fieldsOf(ValidateSessionUpdate(reopened, closed)); len(got) != 1 || got[0] != "status.phase" {
		t.Errorf("reopening a closed session: errors on %v, want status.phase", got)
	}
}

func TestValidateSessionTermination(t *testing.T) {
	if errs := ValidateSessionTermination(&janus.SessionTermination{Reason: "INC-1234: done"}); len(errs) > 0 {
		t.Errorf("a termination with a reason: %v", errs)
	}
	if got := fieldsOf(ValidateSessionTermination(&janus.SessionTermination{})); len(got) != 1 || got[0] != "reason" {
		t.Errorf("a termination without a reason: errors on %v, want reason", got)
	}
	if got := fieldsOf(ValidateSessionTermination(&janus.SessionTermination{Reason: "bye\x1b]0;x\x07"})); len(got) != 1 || got[0] != "reason" {
		t.Errorf("a reason with an escape sequence: errors on %v, want reason", got)
	}
}
