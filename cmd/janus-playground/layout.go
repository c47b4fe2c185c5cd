package main

import (
	"os"
	"path/filepath"
	"strings"
)

// layout names the files of a playground. Everything lives under
// _output/playground: the testbed's work dir (certificates, etcd and Janus
// data, logs), a kubeconfig per demo user, and the daemon's state.
type layout struct {
	repo string
}

func (l layout) dir() string        { return filepath.Join(l.repo, "_output", "playground") }
func (l layout) binDir() string     { return filepath.Join(l.repo, "_output", "bin") }
func (l layout) logDir() string     { return filepath.Join(l.dir(), "logs") }
func (l layout) daemonLog() string  { return filepath.Join(l.logDir(), "playground.log") }
func (l layout) stateFile() string  { return filepath.Join(l.dir(), "state.json") }
func (l layout) pidsFile() string   { return filepath.Join(l.dir(), "pids") }
func (l layout) failedFile() string { return filepath.Join(l.dir(), "failed") }
func (l layout) kubectlLink() string {
	return filepath.Join(l.binDir(), "kubectl")
}

func (l layout) kubeconfig(user string) string {
	return filepath.Join(l.dir(), user+".kubeconfig")
}

// display shortens path to be relative to the working directory when it is
// below it, so printed commands can be pasted as they are.
func display(path string) string {
	wd, err := os.Getwd()
	if err != nil {
		return path
	}
	rel, err := filepath.Rel(wd, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return path
	}
	return rel
}
