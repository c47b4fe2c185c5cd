package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

const (
	// kubectlTimeout bounds one kubectl command.
	kubectlTimeout = time.Minute
	// conditionTimeout bounds waiting for something to become true.
	conditionTimeout = 30 * time.Second
)

// kubectlResult is what one kubectl command printed, and how it ended.
type kubectlResult struct {
	stdout, stderr string
	err            error
}

// output is stdout and stderr together, for matching error messages.
func (r kubectlResult) output() string { return r.stdout + r.stderr }

// kubectl runs the testbed's kubectl as the demo user.
func kubectl(t *testing.T, user string, args ...string) kubectlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := kubectlCommand(ctx, user, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("%s$ kubectl %s\n%s%s", user, strings.Join(args, " "), indent(stdout.String()), indent(stderr.String()))
	return kubectlResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustKubectl runs kubectl and fails the test if it fails; it returns
// stdout.
func mustKubectl(t *testing.T, user string, args ...string) string {
	t.Helper()
	r := kubectl(t, user, args...)
	if r.err != nil {
		t.Fatalf("kubectl %s as %s: %v\n%s", strings.Join(args, " "), user, r.err, r.stderr)
	}
	return r.stdout
}

func kubectlCommand(ctx context.Context, user string, args ...string) *exec.Cmd {
	kubeconfig := bed.KubeconfigFor(user)
	if kubeconfig == "" {
		panic(fmt.Sprintf("%q is not a demo user", user))
	}
	cmd := exec.CommandContext(ctx, bed.Kubectl(), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+kubectlCacheDir)
	return cmd
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// expectFailure checks that kubectl failed and that its output mentions
// every fragment (case-insensitively).
func expectFailure(t *testing.T, r kubectlResult, fragments ...string) {
	t.Helper()
	if r.err == nil {
		t.Fatalf("kubectl succeeded, want a failure mentioning %q; output:\n%s", fragments, r.output())
	}
	out := strings.ToLower(r.output())
	for _, f := range fragments {
		if !strings.Contains(out, strings.ToLower(f)) {
			t.Errorf("kubectl output does not mention %q:\n%s", f, r.output())
		}
	}
}

// watcher is a long-running kubectl (get -w) whose output is read line by
// line.
type watcher struct {
	lines  chan string
	cancel context.CancelFunc
	done   chan struct{}
	stderr bytes.Buffer
}

// startWatch runs kubectl as user in the background until the test ends.
func startWatch(t *testing.T, user string, args ...string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{lines: make(chan string, 100), cancel: cancel, done: make(chan struct{})}
	cmd := kubectlCommand(ctx, user, args...)
	cmd.Stderr = &w.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting kubectl %s: %v", strings.Join(args, " "), err)
	}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		_ = cmd.Wait()
		close(w.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// waitForLine returns the first line that contains every fragment, or
// fails the test at the deadline.
func (w *watcher) waitForLine(t *testing.T, fragments ...string) string {
	t.Helper()
	deadline := time.NewTimer(conditionTimeout)
	defer deadline.Stop()
	var seen []string
	for {
		select {
		case line, ok := <-w.lines:
			if !ok {
				t.Fatalf("kubectl ended before printing a line with %q; it printed:\n%s\nstderr:\n%s", fragments, strings.Join(seen, "\n"), w.stderr.String())
			}
			seen = append(seen, line)
			if containsAll(line, fragments) {
				return line
			}
		case <-deadline.C:
			t.Fatalf("no line with %q within %s; kubectl printed:\n%s", fragments, conditionTimeout, strings.Join(seen, "\n"))
		}
	}
}

func containsAll(s string, fragments []string) bool {
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			return false
		}
	}
	return true
}

// eventually polls check until it returns nil, and fails the test with
// check's last error at the deadline.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, conditionTimeout, true, func(context.Context) (bool, error) {
		last = check()
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %v", what, conditionTimeout, last)
	}
}

// writeFile writes content into the test's temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// repoFile is a path in the repository, e.g. artifacts/examples/approval.json.
func repoFile(rel string) string {
	return filepath.Join(repoRoot, filepath.FromSlash(rel))
}

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}
