package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/infroware/janus/internal/consoleenv"
	"github.com/infroware/janus/internal/testenv"
)

// The console and its OpenID provider listen here when the ports are
// free, on a free port otherwise (the state file and make up say which).
const (
	consoleAddr  = "127.0.0.1:8400"
	providerAddr = "127.0.0.1:8401"
)

// serve starts the testbed, then the console and its OpenID provider (in
// this process), announces them through the state file, and keeps them up
// until ctx ends (SIGTERM from down) or a component dies; then it stops
// everything. Its output goes to the daemon log.
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

	begin := time.Now()
	console, err := consoleenv.Start(ctx, tb, consoleenv.Config{
		RepoRoot: l.repo, WorkDir: l.dir(),
		ConsoleAddr: consoleAddr, ProviderAddr: providerAddr, FallBackToFreePort: true,
	})
	if err != nil {
		_ = os.WriteFile(l.failedFile(), []byte(err.Error()+"\n"), 0o644)
		return fmt.Errorf("starting the console: %w", err)
	}
	defer func() {
		if err := console.Stop(); err != nil {
			logf("stopping the console: %v", err)
		}
	}()
	for _, n := range console.Notices {
		logf("%s", n)
	}
	logf("console %s, OpenID provider %s", console.URL, console.Provider.Issuer)

	entries := append([]testenv.ProcessInfo{daemon}, tb.Processes()...)
	if err := writePIDs(l.pidsFile(), entries); err != nil {
		return err
	}
	st := &state{
		DaemonPID:      os.Getpid(),
		Processes:      tb.Processes(),
		ServerURL:      tb.ServerURL(),
		JanusAddress:   tb.JanusAddress(),
		Kubectl:        tb.Kubectl(),
		Timings:        withConsole(tb.Timings(), time.Since(begin)),
		ConsoleURL:     console.URL,
		ProviderIssuer: console.Provider.Issuer,
		ConsoleNotices: console.Notices,
		StartedAt:      time.Now(),
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
			if err := console.Exited(); err != nil {
				_ = os.WriteFile(l.failedFile(), []byte(err.Error()+"\n"), 0o644)
				return err
			}
			if name := tb.Exited(); name != "" {
				err := fmt.Errorf("%s exited; see %s", name, l.logDir())
				_ = os.WriteFile(l.failedFile(), []byte(err.Error()+"\n"), 0o644)
				return err
			}
		}
	}
}

// withConsole adds the console's start-up to the testbed's timings.
func withConsole(timings []testenv.Timing, d time.Duration) []testenv.Timing {
	out := make([]testenv.Timing, 0, len(timings)+1)
	for _, t := range timings {
		if t.Name == "total" {
			out = append(out, testenv.Timing{Name: "console", Duration: d})
			t.Duration += d
		}
		out = append(out, t)
	}
	return out
}

func logf(format string, args ...any) {
	fmt.Printf("%s playground: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
