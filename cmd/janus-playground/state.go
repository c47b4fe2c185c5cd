package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/infroware/janus/internal/testenv"
)

// state is what the daemon writes once the playground is ready; its
// existence is the "ready" signal up waits for.
type state struct {
	DaemonPID    int                   `json:"daemonPID"`
	Processes    []testenv.ProcessInfo `json:"processes"`
	ServerURL    string                `json:"serverURL"`
	JanusAddress string                `json:"janusAddress"`
	Kubectl      string                `json:"kubectl"`
	// ConsoleURL and ProviderIssuer are the web console and the OpenID
	// provider its demo users sign in at; both run inside the daemon.
	ConsoleURL     string           `json:"consoleURL"`
	ProviderIssuer string           `json:"providerIssuer"`
	ConsoleNotices []string         `json:"consoleNotices,omitempty"`
	Timings        []testenv.Timing `json:"timings"`
	StartedAt      time.Time        `json:"startedAt"`
}

// readState returns nil, nil when there is no state file.
func readState(path string) (*state, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var st state
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return &st, nil
}

// writeFileAtomically makes the file appear complete or not at all.
func writeFileAtomically(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeState(path string, st *state) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomically(path, append(data, '\n')); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writePIDs records every process the daemon owns, itself first, one line
// "<name> <pid> <binary>" each, so down can stop them even if the daemon is
// gone.
func writePIDs(path string, entries []testenv.ProcessInfo) error {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %d %s\n", e.Name, e.PID, e.Binary)
	}
	if err := writeFileAtomically(path, []byte(b.String())); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func readPIDs(path string) ([]testenv.ProcessInfo, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	var entries []testenv.ProcessInfo
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e testenv.ProcessInfo
		if _, err := fmt.Sscanf(line, "%s %d %s", &e.Name, &e.PID, &e.Binary); err == nil {
			entries = append(entries, e)
		}
	}
	return entries, nil
}
