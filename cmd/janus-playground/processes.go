package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// runs reports whether pid is alive and is still binary — a PID recorded
// long ago may since belong to someone else, who must not be signalled.
func runs(pid int, binary string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if isZombie(pid) {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(argv0) == binary || filepath.Base(string(argv0)) == filepath.Base(binary)
}

func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] == 'Z'
	}
	return false
}

// terminate sends SIGTERM to pid, waits up to grace for it to end, then
// sends SIGKILL.
func terminate(pid int, binary string, grace time.Duration) error {
	if !runs(pid, binary) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("sending SIGTERM to pid %d: %w", pid, err)
	}
	if waitGone(pid, binary, grace) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("killing pid %d: %w", pid, err)
	}
	if !waitGone(pid, binary, 5*time.Second) {
		return fmt.Errorf("pid %d (%s) survived SIGKILL", pid, binary)
	}
	return nil
}

func waitGone(pid int, binary string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for runs(pid, binary) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
