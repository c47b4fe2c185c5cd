package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// startTimeout bounds the daemon's start-up; binaries are built before.
const startTimeout = 5 * time.Minute

// up builds what is missing, starts the daemon detached from the terminal,
// and returns once it reports ready (or failed).
func up(ctx context.Context, l layout) error {
	if st, _ := readState(l.stateFile()); st != nil && daemonInfo(l, st).Running() {
		fmt.Printf("The playground is already up (daemon pid %d).\n\n", st.DaemonPID)
		printHints(os.Stdout, l, st)
		return nil
	}
	// A fresh start every time: leftovers of a previous run (certificates,
	// etcd data) would not match the new processes.
	if _, err := stopAll(l); err != nil {
		return err
	}
	if err := os.RemoveAll(l.dir()); err != nil {
		return fmt.Errorf("removing the previous playground: %w", err)
	}
	if err := os.MkdirAll(l.logDir(), 0o755); err != nil {
		return err
	}

	bins, err := testenv.BuildBinaries(ctx, l.repo, l.binDir(), os.Stderr)
	if err != nil {
		return err
	}
	if err := linkKubectl(l, bins.Kubectl); err != nil {
		return err
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(l.daemonLog(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	daemon := exec.Command(self, "serve", "--repo", l.repo,
		"--bin-dir", filepath.Dir(bins.Kubectl), "--janus-apiserver", bins.JanusAPIServer, "--janus-agent", bins.JanusAgent)
	daemon.Stdout, daemon.Stderr = logFile, logFile
	// A session of its own: closing the terminal or the end of `make up`
	// does not reach it.
	daemon.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := daemon.Start(); err != nil {
		return fmt.Errorf("starting the playground daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	fmt.Fprintf(os.Stderr, "playground: starting in the background (pid %d, log %s)\n", daemon.Process.Pid, display(l.daemonLog()))

	st, err := awaitReady(ctx, l, exited)
	if err != nil {
		if ctx.Err() != nil || !errors.Is(err, errDaemonExited) {
			_ = testenv.ProcessInfo{Name: "janus-playground", PID: daemon.Process.Pid, Binary: self}.Terminate(daemonGrace)
		}
		return fmt.Errorf("%w\n--- last lines of %s ---\n%s", err, display(l.daemonLog()), testenv.TailFile(l.daemonLog(), 30))
	}
	fmt.Printf("\nThe Janus playground is up; it started in %s.\n\n", formatTimings(st.Timings))
	printHints(os.Stdout, l, st)
	return nil
}

var errDaemonExited = errors.New("the playground daemon exited before it was ready")

func awaitReady(ctx context.Context, l layout, exited <-chan error) (*state, error) {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("interrupted while the playground was starting: %w", ctx.Err())
		case err := <-exited:
			if msg, readErr := os.ReadFile(l.failedFile()); readErr == nil {
				return nil, fmt.Errorf("%w: %s", errDaemonExited, msg)
			}
			return nil, fmt.Errorf("%w (%v)", errDaemonExited, err)
		case <-deadline.C:
			return nil, fmt.Errorf("the playground was not ready within %s", startTimeout)
		case <-tick.C:
			if st, err := readState(l.stateFile()); err != nil || st != nil {
				return st, err
			}
		}
	}
}

// linkKubectl puts the testbed's kubectl, which matches the kube-apiserver,
// into _output/bin.
func linkKubectl(l layout, kubectl string) error {
	link := l.kubectlLink()
	if target, err := os.Readlink(link); err == nil && target == kubectl {
		return nil
	}
	_ = os.Remove(link)
	if err := os.Symlink(kubectl, link); err != nil {
		return fmt.Errorf("linking kubectl into %s: %w", l.binDir(), err)
	}
	return nil
}

// daemonBinary is the binary name a live daemon runs as; under `go run`
// the path is a temporary one, so only the base name is compared.
func daemonBinary(layout) string { return "janus-playground" }

// daemonInfo is the daemon the state file names.
func daemonInfo(l layout, st *state) testenv.ProcessInfo {
	return testenv.ProcessInfo{Name: "janus-playground", PID: st.DaemonPID, Binary: daemonBinary(l)}
}
