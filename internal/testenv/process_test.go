package testenv

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSupervisorStopsWhatItStartedAndKeepsTheLog(t *testing.T) {
	s, err := NewSupervisor(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Start("sleeper", "/bin/sleep", []string{"600"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	// Start returns once the binary runs under the PID.
	if !p.Running() {
		t.Fatalf("%s (pid %d) does not run", p.Name, p.PID)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	if exited, _ := p.Exited(); !exited || p.Running() {
		t.Fatalf("%s (pid %d) still runs after Stop", p.Name, p.PID)
	}
	if name := s.Exited(); name != "" {
		t.Errorf("Exited() = %q after Stop, want \"\"", name)
	}
	if log := TailFile(filepath.Join(s.LogDir(), "sleeper.log"), 5); !strings.Contains(log, "/bin/sleep 600") {
		t.Errorf("the log after Stop does not name the command:\n%s", log)
	}
}

func TestSupervisorReportsAProcessThatDied(t *testing.T) {
	s, err := NewSupervisor(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	p, err := s.Start("short-lived", "/bin/sh", []string{"-c", "exit 3"})
	if err != nil {
		t.Fatal(err)
	}
	err = WaitUntil(t.Context(), "never", p, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") {
		t.Fatalf("WaitUntil on a dead process: %v, want it to say the process exited", err)
	}
	if name := s.Exited(); name != "short-lived" {
		t.Errorf("Exited() = %q, want short-lived", name)
	}
}

func TestTerminateStopsAProcessFoundByPID(t *testing.T) {
	p, err := StartProcess("foreign", t.TempDir(), "/bin/sleep", []string{"600"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Kill() })
	info := ProcessInfo{Name: "foreign", PID: p.PID, Binary: "/bin/sleep"}
	if (ProcessInfo{PID: p.PID, Binary: "/bin/something-else"}).Running() {
		t.Fatal("Running() is true for a PID that runs another binary")
	}
	begin := time.Now()
	if err := info.Terminate(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if info.Running() {
		t.Fatalf("pid %d still runs after Terminate (%s)", p.PID, time.Since(begin))
	}
}
