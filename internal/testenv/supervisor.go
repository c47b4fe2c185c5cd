package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// Supervisor owns the processes of one environment: it starts them with
// their logs in one directory, tells whether one has died, and stops them
// all in order.
type Supervisor struct {
	logDir string

	mu    sync.Mutex
	procs []*Process
}

// NewSupervisor keeps the logs of what it starts in logDir, which it
// creates.
func NewSupervisor(logDir string) (*Supervisor, error) {
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating log directory: %w", err)
	}
	return &Supervisor{logDir: logDir}, nil
}

// LogDir holds <name>.log for each process.
func (s *Supervisor) LogDir() string { return s.logDir }

// Start runs binary with args as the process name, remembered for Stop.
func (s *Supervisor) Start(name, binary string, args []string) (*Process, error) {
	return s.StartCommand(name, exec.Command(binary, args...))
}

// StartCommand is Start for a command the caller has prepared.
func (s *Supervisor) StartCommand(name string, cmd *exec.Cmd) (*Process, error) {
	p, err := StartCommand(name, s.logDir, cmd)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// Latest is the last process started as name.
func (s *Supervisor) Latest(name string) (*Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.procs) - 1; i >= 0; i-- {
		if s.procs[i].Name == name {
			return s.procs[i], nil
		}
	}
	return nil, fmt.Errorf("%s is not running", name)
}

// Exited returns the name of a process that ended without Stop or Kill,
// or "".
func (s *Supervisor) Exited() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.exitedUnexpectedly() {
			return p.Name
		}
	}
	return ""
}

// Processes lists what was started, in order.
func (s *Supervisor) Processes() []ProcessInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var infos []ProcessInfo
	for _, p := range s.procs {
		infos = append(infos, p.ProcessInfo)
	}
	return infos
}

// Stop ends every process by its PID: SIGTERM, then SIGKILL after 10s.
// Clients of a kube-apiserver go first, etcd last, so nothing logs errors
// about a vanished dependency; within a wave they stop side by side. It
// may be called again.
func (s *Supervisor) Stop() error {
	s.mu.Lock()
	procs := append([]*Process(nil), s.procs...)
	s.mu.Unlock()
	var errs []error
	var mu sync.Mutex
	for wave := range 3 {
		var wg sync.WaitGroup
		for _, p := range procs {
			if stopWave(p.Name) != wave {
				continue
			}
			wg.Go(func() {
				if err := p.Stop(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	}
	return errors.Join(errs...)
}

// stopWave orders Stop: clients of a kube-apiserver first, then the
// kube-apiservers and the S3 servers (janus-apiserver writes the last
// second of its recordings as it stops), etcd last.
func stopWave(name string) int {
	switch {
	case strings.HasSuffix(name, "etcd"):
		return 2
	case strings.HasSuffix(name, "kube-apiserver"), strings.HasPrefix(name, s3ProcessPrefix):
		return 1
	}
	return 0
}
