package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/version"
)

// TestPlugin runs kubectl-janus, built from the working tree, as the demo
// users: the Request → Approve → Active story and its refusals, the way
// people type them.
func TestPlugin(t *testing.T) {
	t.Parallel()
	p := buildPlugin(t)

	t.Run("RunsAsKubectlPlugin", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
		defer cancel()
		// kubectl finds kubectl-janus on PATH and hands it the rest of the line.
		cmd := exec.CommandContext(ctx, bed.Kubectl(), "janus", "--kubeconfig", bed.KubeconfigFor("alice"), "list", "--all")
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(p.path)+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECACHEDIR="+kubectlCacheDir)
		out, err := cmd.CombinedOutput()
		t.Logf("alice$ kubectl janus list --all\n%s", indent(string(out)))
		if err != nil {
			t.Fatalf("kubectl janus list --all: %v", err)
		}
	})

	t.Run("VersionReadsJanusThroughTheAggregator", func(t *testing.T) {
		t.Parallel()
		// Neither the plugin nor the testbed's janus-apiserver is stamped,
		// so both are this test binary's unstamped version.
		out := p.mustRun(t, "alice", "version")
		for _, want := range []string{"Client Version: " + version.String(), "Server Version: " + version.Get().GitVersion + "\n", "Kubernetes Version: v1."} {
			if !strings.Contains(out, want) {
				t.Errorf("kubectl janus version lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("RequestWaitsUntilActive", func(t *testing.T) {
		t.Parallel()
		req := p.start(t, "alice", "request", "--cluster", "dev", "--namespaces", "payments", "--duration", "1h",
			"--reason", "plugin e2e: wait until active", "--wait", "--timeout", "1m")
		name := req.nextLine(t)
		if !strings.HasPrefix(name, "alice-") {
			t.Fatalf("request printed %q, want a name starting alice-", name)
		}
		approved := p.mustRun(t, "bob", "approve", name, "--reason", "plugin e2e")
		if !strings.Contains(approved, "accessrequest/"+name+" approved") {
			t.Errorf("approve printed %q", approved)
		}
		res := req.result(t)
		if res.err != nil {
			t.Fatalf("request --wait failed: %v\n%s", res.err, res.output())
		}
		for _, want := range []string{name + ": Pending", name + ": Active"} {
			if !strings.Contains(res.stderr, want) {
				t.Errorf("request --wait did not report %q:\n%s", want, res.stderr)
			}
		}
		expectPhase(t, name, "Active")
	})

	t.Run("ListShowsOwnRequestsUnlessAll", func(t *testing.T) {
		t.Parallel()
		mine := p.request(t, "alice", "dev", "payments")
		carols := p.request(t, "carol", "dev", "payments")

		out := p.mustRun(t, "alice", "list")
		if !containsAll(out, []string{"NAME", "REQUESTER", "CLUSTER", "NAMESPACES", "PHASE", "EXPIRES", "AGE"}) {
			t.Errorf("list has not the server's columns:\n%s", out)
		}
		if !strings.Contains(out, mine) || strings.Contains(out, carols) {
			t.Errorf("alice's list should show %s and not carol's %s:\n%s", mine, carols, out)
		}
		if out := p.mustRun(t, "alice", "list", "--all"); !containsAll(out, []string{mine, carols}) {
			t.Errorf("list --all lacks %s or %s:\n%s", mine, carols, out)
		}
		if out := p.mustRun(t, "alice", "list", "--phase", "denied", "-o", "name"); strings.Contains(out, mine) {
			t.Errorf("list --phase denied shows the pending %s:\n%s", mine, out)
		}
		if out := p.mustRun(t, "alice", "list", "--cluster", "dev", "-o", "name"); !strings.Contains(out, "accessrequest.janus.infroware.io/"+mine) {
			t.Errorf("list --cluster dev -o name lacks %s:\n%s", mine, out)
		}
	})

	t.Run("DescribeShowsTheApprovalAndTheEvents", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "bob", "approve", name, "--reason", "matches INC-4711")

		out := p.mustRun(t, "alice", "describe", name)
		for _, want := range []string{"Requester:", "alice", "Cluster:", "dev", "Approvals:", "bob", "matches INC-4711", "Timeline:", "Requested", "Approved"} {
			if !strings.Contains(out, want) {
				t.Errorf("describe as alice lacks %q:\n%s", want, out)
			}
		}
		// A requester may not read Events in default: one line says so.
		if !strings.Contains(out, "Events:") || !strings.Contains(out, "you may not list events") {
			t.Errorf("describe as alice does not say the events are not shown:\n%s", out)
		}
		eventually(t, "describe as admin shows the Events", func() error {
			out := p.mustRun(t, "admin", "describe", name)
			_, events, ok := strings.Cut(out, "Events:")
			if !ok {
				return errors.New("describe printed no Events")
			}
			for _, want := range []string{"Requested", "approved by bob"} {
				if !strings.Contains(events, want) {
					return errors.New("the Events lack " + want)
				}
			}
			return nil
		})
	})

	t.Run("DenyEndsWaitingWithAFailure", func(t *testing.T) {
		t.Parallel()
		req := p.start(t, "alice", "request", "--cluster", "dev", "--namespaces", "payments",
			"--reason", "plugin e2e: denied", "--wait", "--timeout", "1m")
		name := req.nextLine(t)
		if out := p.mustRun(t, "bob", "deny", name, "--reason", "use the dashboard"); !strings.Contains(out, "denied; it is Denied") {
			t.Errorf("deny printed %q", out)
		}
		res := req.result(t)
		expectFailure(t, res, name+" is Denied and will never be Active", "use the dashboard")
		expectExitCode(t, res, 1)

		expectFailure(t, p.run(t, "alice", "wait", name, "--for", "phase=Active"), "is Denied")
		p.mustRun(t, "alice", "wait", name, "--for", "phase=denied")
	})

	t.Run("WithdrawByTheRequester", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "dev", "payments")
		if out := p.mustRun(t, "alice", "withdraw", name); !strings.Contains(out, "withdrawn; it is Withdrawn") {
			t.Errorf("withdraw printed %q", out)
		}
		expectPhase(t, name, "Withdrawn")
	})

	t.Run("ExtendAndRevokeByCarol", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "bob", "approve", name)
		p.mustRun(t, "alice", "wait", name, "--for", "phase=Active", "--timeout", "1m")

		if out := p.mustRun(t, "carol", "extend", name, "--duration", "10m", "--reason", "migration still running"); !strings.Contains(out, "extended") {
			t.Errorf("extend printed %q", out)
		}
		if out := p.mustRun(t, "carol", "revoke", name, "--reason", "incident closed", "-o", "jsonpath={.status.phase}"); out != "Revoked" {
			t.Errorf("revoke -o jsonpath printed %q, want Revoked", out)
		}
		expectPhase(t, name, "Revoked")
	})

	t.Run("ApproveOutsideApproversClustersIsForbidden", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "prod", "payments")
		res := p.run(t, "bob", "approve", name)
		expectFailure(t, res, "Error from server (Forbidden)", `cannot approve access to cluster "prod"`)
		expectExitCode(t, res, 1)
		expectPhase(t, name, "Pending")
	})

	t.Run("ExcludedNamespaceIsInvalid", func(t *testing.T) {
		t.Parallel()
		res := p.run(t, "alice", "request", "--cluster", "dev", "--namespaces", "kube-system", "--reason", "plugin e2e: excluded")
		expectFailure(t, res, `The AccessRequest "alice-`, `is invalid: spec.namespaces[0]`, "kube-system")
		expectExitCode(t, res, 1)
	})

	t.Run("DecisionOnADecidedRequestConflicts", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "bob", "deny", name, "--reason", "no")
		res := p.run(t, "carol", "approve", name)
		expectFailure(t, res, "Error from server (Conflict)", "kubectl janus describe "+name)
		expectPhase(t, name, "Denied")
	})

	t.Run("ExecAndLogsThroughAnActiveRequest", func(t *testing.T) {
		t.Parallel()
		name := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "bob", "approve", name)
		p.mustRun(t, "alice", "wait", name, "--for", "phase=Active", "--timeout", "1m")

		// -n is left out: the request has only one namespace.
		if out := p.mustRun(t, "alice", "exec", name, "payments-api-0", "--", "echo", "hello from payments"); out != "hello from payments\n" {
			t.Errorf("exec printed %q", out)
		}
		// kwok's local exec neither closes a command's stdin at EOF nor
		// reports its exit code as kubelet does (kubectl exec straight to the
		// target behaves the same), so the command reads one line, and a
		// failing command is checked only for failing.
		res := p.runWithInput(t, "piped through\n", "alice", "exec", "-i", name, "-n", "payments", "payments-api-0", "-c", "main", "--",
			"sh", "-c", `read line; echo "got $line"`)
		if res.err != nil || res.stdout != "got piped through\n" {
			t.Errorf("exec -i: %v, printed %q", res.err, res.stdout)
		}
		expectFailure(t, p.run(t, "alice", "exec", name, "payments-api-0", "--", "sh", "-c", "exit 3"), "exit status 3")

		res = p.run(t, "bob", "exec", name, "-n", "payments", "payments-api-0", "--", "true")
		expectFailure(t, res, "Error from server (Forbidden)", "only the requester")
		expectExitCode(t, res, 1)

		logs := p.run(t, "alice", "logs", name, "payments-api-0", "--tail", "1")
		if logs.err != nil || !strings.Contains(logs.stdout, "listening on :8080") || strings.Contains(logs.stdout, "starting") {
			t.Errorf("logs --tail 1: %v, printed %q", logs.err, logs.stdout)
		}
	})

	t.Run("ExecWithATerminal", func(t *testing.T) {
		t.Parallel()
		// script(1) gives the plugin a terminal of a known size. The remote
		// command lingers a second after its last line because kwok's exec
		// (like kubectl exec -it straight to it) can drop what a terminal
		// printed just before the process ended.
		script, err := exec.LookPath("script")
		if err != nil {
			t.Fatalf("script(1) from util-linux is needed to give the plugin a terminal: %v", err)
		}
		name := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "bob", "approve", name)
		p.mustRun(t, "alice", "wait", name, "--for", "phase=Active", "--timeout", "1m")

		// The size arrives just after the command starts, so the command
		// waits for it.
		remoteScript := `for i in 1 2 3 4 5 6 7 8 9 10; do [ "$(stty size)" = "0 0" ] || break; sleep 0.2; done; ` +
			`stty size; tty; read answer; echo "got $answer"; sleep 1`
		ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
		defer cancel()
		line := "stty cols 123 rows 45; " + p.path + " --kubeconfig " + bed.KubeconfigFor("alice") +
			" exec -it " + name + ` payments-api-0 -- sh -c '` + remoteScript + `'`
		cmd := exec.CommandContext(ctx, script, "-qfec", line, "/dev/null")
		// stdin stays open until the command ends: at EOF script(1) would
		// type Ctrl-D, which could end the session before the answer is read.
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer stdin.Close()
		if _, err := io.WriteString(stdin, "yes\n"); err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		t.Logf("alice$ kubectl janus exec -it %s payments-api-0 -- sh -c ... (in a 123x45 terminal)\n%s", name, indent(string(out)))
		if err != nil {
			t.Fatalf("exec -it: %v", err)
		}
		for _, want := range []string{"45 123", "/dev/pts/", "got yes"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("exec -it output lacks %q", want)
			}
		}
	})

	t.Run("CompletesRequestNames", func(t *testing.T) {
		t.Parallel()
		pending := p.request(t, "alice", "dev", "payments")
		withdrawn := p.request(t, "alice", "dev", "payments")
		p.mustRun(t, "alice", "withdraw", withdrawn)

		// What the shell asks for after "kubectl janus approve alice-<TAB>":
		// pending requests only, and no file names.
		out := p.mustRun(t, "bob", "__complete", "approve", "alice-")
		if !strings.Contains(out, pending+"\tPending dev alice") || strings.Contains(out, withdrawn) {
			t.Errorf("completing approve should offer %s and not the withdrawn %s:\n%s", pending, withdrawn, out)
		}
		if !strings.Contains(out, ":4") {
			t.Errorf("completion does not turn off file completion (directive 4):\n%s", out)
		}
		if out := p.mustRun(t, "alice", "__complete", "request", "--cluster", ""); !containsAll(out, []string{"dev\tDevelopment", "prod\tProduction"}) {
			t.Errorf("completing --cluster lacks the demo clusters:\n%s", out)
		}
	})

	t.Run("UnknownRequestIsNotFound", func(t *testing.T) {
		t.Parallel()
		res := p.run(t, "alice", "describe", "no-such-request")
		expectFailure(t, res, `Error from server (NotFound)`, `"no-such-request" not found`)
		// wait fails at once rather than at its timeout.
		begin := time.Now()
		expectFailure(t, p.run(t, "alice", "wait", "no-such-request", "--timeout", "1m"), `Error from server (NotFound)`)
		if waited := time.Since(begin); waited > 10*time.Second {
			t.Errorf("wait for a request that does not exist took %s", waited)
		}
		expectFailure(t, p.run(t, "dave", "list", "--all"), "Error from server (Forbidden)", `User "dave" cannot list resource "accessrequests"`)
	})
}

// plugin is a kubectl-janus binary.
type plugin struct{ path string }

// buildPlugin builds kubectl-janus from the working tree into the test's
// temporary directory.
func buildPlugin(t *testing.T) plugin {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubectl-janus")
	build := exec.Command("go", "build", "-o", path, "./cmd/kubectl-janus")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building kubectl-janus: %v\n%s", err, out)
	}
	return plugin{path: path}
}

func (p plugin) command(ctx context.Context, user string, args ...string) *exec.Cmd {
	kubeconfig := bed.KubeconfigFor(user)
	if kubeconfig == "" {
		panic(user + " is not a demo user")
	}
	cmd := exec.CommandContext(ctx, p.path, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECACHEDIR="+kubectlCacheDir)
	return cmd
}

// run runs kubectl janus as the demo user.
func (p plugin) run(t *testing.T, user string, args ...string) kubectlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := p.command(ctx, user, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("%s$ kubectl janus %s\n%s%s", user, strings.Join(args, " "), indent(stdout.String()), indent(stderr.String()))
	return kubectlResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// runWithInput runs kubectl janus with stdin.
func (p plugin) runWithInput(t *testing.T, stdin, user string, args ...string) kubectlResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := p.command(ctx, user, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("%s$ kubectl janus %s <<< %q\n%s%s", user, strings.Join(args, " "), stdin, indent(stdout.String()), indent(stderr.String()))
	return kubectlResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// mustRun runs kubectl janus and fails the test if it fails; it returns
// stdout.
func (p plugin) mustRun(t *testing.T, user string, args ...string) string {
	t.Helper()
	r := p.run(t, user, args...)
	if r.err != nil {
		t.Fatalf("kubectl janus %s as %s: %v\n%s", strings.Join(args, " "), user, r.err, r.stderr)
	}
	return r.stdout
}

// request files a request with the plugin and returns its name.
func (p plugin) request(t *testing.T, user, cluster string, namespaces ...string) string {
	t.Helper()
	name := strings.TrimSpace(p.mustRun(t, user, "request", "--cluster", cluster, "--namespaces", strings.Join(namespaces, ","),
		"--duration", "1h", "--reason", "plugin e2e: "+t.Name()))
	if name == "" {
		t.Fatal("kubectl janus request printed no name")
	}
	return name
}

// backgroundPlugin is a kubectl janus command that runs while the test
// does other things, e.g. request --wait while an approver decides.
type backgroundPlugin struct {
	lines  chan string
	stdout strings.Builder
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

func (p plugin) start(t *testing.T, user string, args ...string) *backgroundPlugin {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*kubectlTimeout)
	b := &backgroundPlugin{lines: make(chan string, 100), done: make(chan struct{})}
	cmd := p.command(ctx, user, args...)
	cmd.Stderr = &b.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting kubectl janus %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("%s$ kubectl janus %s &", user, strings.Join(args, " "))
	go func() {
		defer close(b.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			b.stdout.WriteString(sc.Text() + "\n")
			b.lines <- sc.Text()
		}
		close(b.lines)
		b.err = cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// nextLine is the next line the command prints to stdout.
func (b *backgroundPlugin) nextLine(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-b.lines:
		if !ok {
			<-b.done
			t.Fatalf("kubectl janus ended without printing a line: %v\n%s", b.err, b.stderr.String())
		}
		return strings.TrimSpace(line)
	case <-time.After(conditionTimeout):
		t.Fatalf("kubectl janus printed nothing within %s", conditionTimeout)
	}
	return ""
}

// result waits for the command to end.
func (b *backgroundPlugin) result(t *testing.T) kubectlResult {
	t.Helper()
	select {
	case <-b.done:
	case <-time.After(2 * conditionTimeout):
		t.Fatalf("kubectl janus did not end within %s; stderr so far:\n%s", 2*conditionTimeout, b.stderr.String())
	}
	t.Logf("kubectl janus ended: %v\n%s%s", b.err, indent(b.stdout.String()), indent(b.stderr.String()))
	return kubectlResult{stdout: b.stdout.String(), stderr: b.stderr.String(), err: b.err}
}

func expectExitCode(t *testing.T, r kubectlResult, want int) {
	t.Helper()
	var exitErr *exec.ExitError
	if !errors.As(r.err, &exitErr) {
		t.Errorf("want exit code %d, got %v", want, r.err)
		return
	}
	if got := exitErr.ExitCode(); got != want {
		t.Errorf("exit code %d, want %d", got, want)
	}
}
