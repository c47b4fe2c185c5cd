package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// daemonGrace covers the daemon stopping the components in three waves of
// up to 10s each.
const daemonGrace = 40 * time.Second

// componentGrace is what a component gets between SIGTERM and SIGKILL.
const componentGrace = 10 * time.Second

// down stops the playground and leaves nothing running. Its files (logs,
// data) stay until the next up, for a look at what happened.
func down(l layout) error {
	stopped, err := stopAll(l)
	if err != nil {
		return err
	}
	if stopped == 0 {
		fmt.Println("The playground is not running.")
		return nil
	}
	fmt.Printf("The playground is down (%d processes stopped). Logs stay in %s.\n", stopped, display(l.logDir()))
	return nil
}

// stopAll asks the daemon to stop its components, then makes sure that
// every process in the pids file is gone, in case the daemon could not.
func stopAll(l layout) (int, error) {
	entries, err := readPIDs(l.pidsFile())
	if err != nil {
		return 0, err
	}
	if st, _ := readState(l.stateFile()); st != nil && !hasPID(entries, st.DaemonPID) {
		entries = append([]testenv.ProcessInfo{daemonInfo(l, st)}, entries...)
	}
	var alive []testenv.ProcessInfo
	for _, e := range entries {
		if e.Running() {
			alive = append(alive, e)
		}
	}
	// The daemon comes first and stops the components in order; the rest
	// of the loop finds them gone, unless the daemon could not.
	var errs []error
	for _, e := range alive {
		grace := componentGrace
		if e.Name == "janus-playground" {
			grace = daemonGrace
		}
		if err := e.Terminate(grace); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", e.Name, err))
		}
	}
	stopped := len(alive)
	if err := errors.Join(errs...); err != nil {
		return stopped, err
	}
	for _, f := range []string{l.stateFile(), l.pidsFile()} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return stopped, err
		}
	}
	return stopped, nil
}

func hasPID(entries []testenv.ProcessInfo, pid int) bool {
	for _, e := range entries {
		if e.PID == pid {
			return true
		}
	}
	return false
}
