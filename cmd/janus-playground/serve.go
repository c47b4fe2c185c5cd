package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// serve starts the testbed, announces it through the state file, and keeps
// it up until ctx ends (SIGTERM from down) or a component dies; then it
// stops every process. Its output goes to the daemon log.
func serve(ctx context.Context, l layout, bins testenv.Binaries) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	daemon := testenv.ProcessInfo{Name: "janus-playground", PID: os.Getpid(), Binary: self}
	if err := writePIDs(l.pidsFile(), []testenv.ProcessInfo{daemon}); err != nil {
		return err
	}
	logf("starting the playground in %s", l.dir())
	tb, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir:  l.dir(),
		RepoRoot: l.repo,
		Binaries: bins,
		Progress: os.Stdout,
		// dev is a real target cluster (kube-apiserver, kwok pods, agent).
		Targets: []testenv.TargetSpec{{Name: "dev"}},
	})
	if err != nil {
		_ = os.WriteFile(l.failedFile(), []byte(err.Error()+"\n"), 0o644)
		return fmt.Errorf("starting the playground: %w", err)
	}
	defer func() {
		logf("stopping")
		if err := tb.Stop(); err != nil {
			logf("stopping: %v", err)
		}
		os.Remove(l.stateFile())
		os.Remove(l.pidsFile())
		logf("stopped")
	}()

	entries := append([]testenv.ProcessInfo{daemon}, tb.Processes()...)
	if err := writePIDs(l.pidsFile(), entries); err != nil {
		return err
	}
	st := &state{
		DaemonPID:    os.Getpid(),
		Processes:    tb.Processes(),
		ServerURL:    tb.ServerURL(),
		JanusAddress: tb.JanusAddress(),
		Kubectl:      tb.Kubectl(),
		Timings:      tb.Timings(),
		StartedAt:    time.Now(),
	}
	if err := writeState(l.stateFile(), st); err != nil {
		return err
	}
	logf("ready")

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			if name := tb.Exited(); name != "" {
				err := fmt.Errorf("%s exited; see %s", name, l.logDir())
				_ = os.WriteFile(l.failedFile(), []byte(err.Error()+"\n"), 0o644)
				return err
			}
		}
	}
}

func logf(format string, args ...any) {
	fmt.Printf("%s playground: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
