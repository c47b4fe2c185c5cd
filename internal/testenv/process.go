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

// process is one component of the testbed, started by us and stopped by its
// PID.
type process struct {
	ProcessInfo
	cmd *exec.Cmd

	exited   chan struct{}
	exitErr  error
	stopping bool
	mu       sync.Mutex
}

// startProcess runs binary with args, its stdout and stderr going to
// logDir/<name>.log.
func startProcess(name, logDir, binary string, args []string) (*process, error) {
	logPath := filepath.Join(logDir, name+".log") // Testbed.logPath
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", name, err)
	}
	// Arguments name files, never credentials, so they are safe to log.
	fmt.Fprintf(logFile, "# %s %s\n# %s\n", binary, strings.Join(args, " "), time.Now().Format(time.RFC3339))

	cmd := exec.Command(binary, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own process group: a Ctrl-C in the terminal reaches only the
		// owner, which stops everything in order.
		Setpgid: true,
		// Should the owner die without stopping us (SIGKILL, a test
		// timeout), the kernel stops the component too.
		Pdeathsig: syscall.SIGKILL,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, binary, err)
	}
	p := &process{
		ProcessInfo: ProcessInfo{Name: name, PID: cmd.Process.Pid, Binary: binary, LogFile: logPath},
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
	return p, nil
}

// hasExited reports whether the process is gone, and how it ended.
func (p *process) hasExited() (bool, error) {
	select {
	case <-p.exited:
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.exitErr
	default:
		return false, nil
	}
}

// exitedUnexpectedly is true when the process ended without
// being asked to stop.
func (p *process) exitedUnexpectedly() bool {
	exited, _ := p.hasExited()
	p.mu.Lock()
	defer p.mu.Unlock()
	return exited && !p.stopping
}

// stop sends SIGTERM, and SIGKILL if the process is still there after the
// grace period.
func (p *process) stop() error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if exited, _ := p.hasExited(); exited {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending SIGTERM to %s (pid %d): %w", p.Name, p.PID, err)
	}
	select {
	case <-p.exited:
		return nil
	case <-time.After(stopGrace):
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", p.Name, p.PID, err)
	}
	<-p.exited
	return fmt.Errorf("%s (pid %d) ignored SIGTERM for %s and was killed", p.Name, p.PID, stopGrace)
}

// kill ends the process with SIGKILL, as a crash would; it counts as
// asked for.
func (p *process) kill() error {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing %s (pid %d): %w", p.Name, p.PID, err)
	}
	<-p.exited
	return nil
}

// logTail returns the last lines of the process's log, for error messages.
func (p *process) logTail(lines int) string {
	return tailFile(p.LogFile, lines)
}

func tailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	all := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return string(bytes.Join(all, []byte("\n")))
}
