package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// stopGrace is how long a process has to exit after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// ProcessInfo identifies a running component, for callers that must find
// it again by PID (janus-playground down).
type ProcessInfo struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Binary  string `json:"binary"`
	LogFile string `json:"logFile"`
}

// Process is a program started by us, its stdout and stderr in a log file,
// and stopped by its PID.
type Process struct {
	ProcessInfo
	cmd *exec.Cmd

	exited   chan struct{}
	exitErr  error
	stopping bool
	mu       sync.Mutex
}

// StartProcess runs binary with args, its stdout and stderr going to
// logDir/<name>.log.
func StartProcess(name, logDir, binary string, args []string) (*Process, error) {
	return StartCommand(name, logDir, exec.Command(binary, args...))
}

// StartCommand starts cmd, which has not been started, as StartProcess
// does; callers set what StartProcess cannot (environment, inherited
// files).
func StartCommand(name, logDir string, cmd *exec.Cmd) (*Process, error) {
	logPath := filepath.Join(logDir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	// Arguments name files, never credentials, so they are safe to log.
	fmt.Fprintf(logFile, "# %s %s\n# %s\n", cmd.Path, strings.Join(cmd.Args[1:], " "), time.Now().Format(time.RFC3339))

	cmd.Stdout = logFile
	cmd.Stderr = logFile
	attr := &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches only the
		// owner, which stops everything in order.
		Setpgid: true,
		// Should the owner die without stopping us (SIGKILL, a test
		// timeout), the kernel stops the component too.
		Pdeathsig: syscall.SIGKILL,
	}
	// The caller's user to run as is kept: PostgreSQL refuses root.
	if cmd.SysProcAttr != nil {
		attr.Credential = cmd.SysProcAttr.Credential
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, cmd.Path, err)
	}
	p := &Process{
		ProcessInfo: ProcessInfo{Name: name, PID: cmd.Process.Pid, Binary: cmd.Path, LogFile: logPath},
		cmd:         cmd,
		exited:      make(chan struct{}),
	}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.exitErr = err
		p.mu.Unlock()
		logFile.Close()
		close(p.exited)
	}()
	p.awaitExec()
	return p, nil
}

// execShowTimeout bounds awaitExec.
const execShowTimeout = 5 * time.Second

// awaitExec waits until the kernel shows the new program under the PID.
// cmd.Start returns once exec has begun, and for a moment after that
// /proc/PID/cmdline is still empty: a caller asking Running at once would
// be told the process is not there.
func (p *Process) awaitExec() {
	deadline := time.NewTimer(execShowTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !p.ProcessInfo.Running() {
		select {
		case <-p.exited:
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}

// Exited reports whether the process is gone, and how it ended.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.exitErr
	default:
		return false, nil
	}
}

// exitedUnexpectedly is true when the process ended without being asked to
// stop.
func (p *Process) exitedUnexpectedly() bool {
	exited, _ := p.Exited()
	p.mu.Lock()
	defer p.mu.Unlock()
	return exited && !p.stopping
}

// Stop sends SIGTERM, and SIGKILL if the process is still there after the
// grace period, which is an error.
func (p *Process) Stop() error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if exited, _ := p.Exited(); exited {
		return nil
	}
	killed, err := terminate(p.ProcessInfo, stopGrace, p.signal, p.waitExited)
	if err == nil && killed {
		err = fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.Name, p.PID, stopGrace)
	}
	return err
}

// Kill ends the process with SIGKILL, as a crash would; it counts as asked
// for.
func (p *Process) Kill() error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if err := p.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("killing %s (pid %d): %w", p.Name, p.PID, err)
	}
	<-p.exited
	return nil
}

// signal is nil once the process has been waited for: its PID may since
// belong to someone else.
func (p *Process) signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

func (p *Process) waitExited(timeout time.Duration) bool {
	select {
	case <-p.exited:
		return true
	case <-time.After(timeout):
		return false
	}
}

// LogTail returns the last lines of the process's log, for error messages.
func (p *Process) LogTail(lines int) string {
	return TailFile(p.LogFile, lines)
}

// Running reports whether the PID is alive and still runs Binary: a PID
// recorded long ago may since belong to someone else, who must not be
// signalled.
func (i ProcessInfo) Running() bool {
	if i.PID <= 0 {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", i.PID))
	if err != nil || isZombie(i.PID) {
		return false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return string(argv0) == i.Binary || filepath.Base(string(argv0)) == filepath.Base(i.Binary)
}

// Terminate stops a process someone else started, found by its PID: SIGTERM,
// and SIGKILL if it is still there after grace.
func (i ProcessInfo) Terminate(grace time.Duration) error {
	if !i.Running() {
		return nil
	}
	signal := func(sig syscall.Signal) error {
		if err := syscall.Kill(i.PID, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			return err
		}
		return nil
	}
	gone := func(timeout time.Duration) bool {
		deadline := time.Now().Add(timeout)
		for i.Running() {
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(100 * time.Millisecond)
		}
		return true
	}
	_, err := terminate(i, grace, signal, gone)
	return err
}

// terminate sends SIGTERM, waits up to grace for the process to be gone,
// then sends SIGKILL; killed says whether it came to that.
func terminate(i ProcessInfo, grace time.Duration, signal func(syscall.Signal) error, gone func(time.Duration) bool) (killed bool, err error) {
	if err := signal(syscall.SIGTERM); err != nil {
		return false, fmt.Errorf("sending SIGTERM to %s (pid %d): %w", i.Name, i.PID, err)
	}
	if gone(grace) {
		return false, nil
	}
	if err := signal(syscall.SIGKILL); err != nil {
		return true, fmt.Errorf("killing %s (pid %d): %w", i.Name, i.PID, err)
	}
	if !gone(5 * time.Second) {
		return true, fmt.Errorf("%s (pid %d, %s) survived SIGKILL", i.Name, i.PID, i.Binary)
	}
	return true, nil
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

// TailFile is the end of the file at path, for error messages.
func TailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	return lastLines(string(data), lines)
}

// lastLines is the end of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
