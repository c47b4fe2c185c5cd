package console

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/infroware/janus/internal/consoleenv"
	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// TestConsoleOverTwoReplicas: a console in front of two janus-apiserver
// replicas, A and B, on one PostgreSQL database and one S3 bucket of
// recordings, with dev's agent connected to B only. With the API on A,
// alice requests access in her browser, bob approves it from his
// Approvals page, and alice's terminal runs a shell that A relays over the
// peer link to B's tunnel. Then a terminal opened while the API is on B,
// relayed by B, keeps working once the API moves to A; bob watches it
// live through A (which follows it on B) and sees alice's output within a
// second. Each recording lands in the bucket, and each replays in the
// browser through the replica that did not record it.
func TestConsoleOverTwoReplicas(t *testing.T) {
	begin := time.Now()
	tb := startTwoReplicas(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := consoleenv.Start(ctx, tb, consoleenv.Config{RepoRoot: repoRoot, WorkDir: t.TempDir()})
	if err != nil {
		t.Fatalf("starting a console over two replicas: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the console over two replicas: %v", err)
		}
	})
	t.Logf("two replicas and a console over them up in %s", time.Since(begin).Round(10*time.Millisecond))
	admin := janusClient(t, tb, "admin")
	routeAPI(t, ctx, tb, testenv.ReplicaA)

	// Requested and approved in the browsers, through A.
	alice := newBrowserOf(t, "alice", c)
	alice.signIn("alice")
	name := alice.requestThroughForm(c.URL, "two replicas: payments-api is on fire")
	t.Cleanup(func() {
		_, _ = janusClient(t, tb, "alice").JanusV1alpha1().AccessRequests().Withdraw(context.Background(), name, &v1alpha1.Withdrawal{Reason: "test done"}, metav1.CreateOptions{})
	})
	bob := newBrowserOf(t, "bob", c)
	bob.signIn("bob")
	approve := fmt.Sprintf(`[data-testid="approve-%s"]`, name)
	bob.open("/approvals", approve)
	bob.run("approving alice's request",
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`[data-testid="pending-%s"]`, name))))
	pollUntil(t, ctx, "alice's request Active, its grant made through B's tunnel", 30*time.Second, func(ctx context.Context) (bool, error) {
		ar, err := admin.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
		return err == nil && ar.Status.Phase == v1alpha1.AccessRequestActive, nil
	})

	// A terminal relayed by A, whose exec reaches dev through B's tunnel.
	alice.openTerminal(terminalPath(name), 0)
	alice.typeInto(0, "echo via-a-$((40+2))\r")
	alice.waitLine(0, regexp.MustCompile(`^via-a-42$`), 10*time.Second)
	onA := sessionIn(t, ctx, admin, name, v1alpha1.SessionOpen, 10*time.Second)
	if onA.Status.Server != testenv.ReplicaA {
		t.Fatalf("the terminal opened with the API on A is relayed by %q", onA.Status.Server)
	}
	alice.screenshot(pageShots(), "replicas-terminal-relayed-by-a")
	alice.typeInto(0, "exit\r")
	sessionClosedIn(t, ctx, admin, onA.Name, 15*time.Second)

	// A terminal relayed by B: opened while new connections go to B, and
	// kept there when the API moves back to A.
	shell := newBrowserOf(t, "alice-on-b", c)
	shell.signIn("alice")
	routeAPI(t, ctx, tb, testenv.ReplicaB)
	stopKeeping, err := tb.KeepAPIServiceConnections()
	if err != nil {
		t.Fatal(err)
	}
	shell.openTerminal(terminalPath(name), 0)
	stopKeeping()
	onB := sessionIn(t, ctx, admin, name, v1alpha1.SessionOpen, 10*time.Second)
	if onB.Status.Server != testenv.ReplicaB {
		t.Fatalf("the terminal opened with the API on B is relayed by %q", onB.Status.Server)
	}
	routeAPI(t, ctx, tb, testenv.ReplicaA)
	shell.typeInto(0, "echo still-on-b-$((6*7))\r")
	shell.waitLine(0, regexp.MustCompile(`^still-on-b-42$`), 10*time.Second)

	// bob, through A, sees it live on his Approvals page and watches it.
	watcher := newBrowserOf(t, "bob-watching", c)
	watcher.watchPages()
	watcher.signIn("bob")
	watcher.open("/approvals", `#live-sessions-heading`)
	watcher.liveReady()
	watch := fmt.Sprintf(`[data-testid="live-%s"] [data-testid="watch-%s"]`, onB.Name, onB.Name)
	watcher.waitJS("the session relayed by B listed live on bob's Approvals page", fmt.Sprintf(`!!document.querySelector(%q)`, watch), 10*time.Second)
	get(watcher, "clicking Watch", chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const a = document.querySelector(%q); if (a) a.click(); return !!a })()`, watch)))
	watcher.run("opening the follow page", chromedp.WaitVisible(chromedp.CSS(`[data-testid="follow-term"] .xterm`)))
	watcher.waitJS("the follow stream live", `window.janusFollow && document.querySelector('[data-testid="follow-state"]').textContent === 'live'`, 10*time.Second)
	for i := range 3 {
		want := fmt.Sprintf("followed-%d", 2000+i)
		shell.stampLine(want, `janusTerminals[0].term`, want)
		watcher.stampLine(want, `janusFollow.term`, want)
		shell.typeInto(0, fmt.Sprintf("echo followed-$((2000+%d))\r", i))
		shown := shell.stamp(want, 10*time.Second)
		lag := watcher.stamp(want, 5*time.Second).Sub(shown)
		t.Logf("%s: on alice's terminal (relayed by B) at %s, on bob's follow page (through A) %s later", want, shown.Format("15:04:05.000"), lag.Round(time.Millisecond))
		if lag > time.Second {
			t.Errorf("%s reached bob's follow page %s after alice's terminal, want within 1s", want, lag.Round(time.Millisecond))
		}
	}
	logSays(t, tb, testenv.ReplicaA, `"Attaching through the relaying replica" session="`+onB.Name+`" replica="janus-b"`)
	shell.screenshot(pageShots(), "replicas-terminal-relayed-by-b")
	watcher.screenshot(pageShots(), "replicas-follow-through-a")
	if v := watcher.cspViolations(); len(v) > 0 {
		t.Errorf("bob's pages broke the Content-Security-Policy: %v", v)
	}
	shell.typeInto(0, "exit\r")
	sessionClosedIn(t, ctx, admin, onB.Name, 15*time.Second)

	// Each recording is in the bucket and plays through the other replica.
	s3 := tb.RecordingS3()
	if s3 == nil {
		t.Error("the two replicas record into no S3 bucket of the testbed")
	}
	player := newBrowserOf(t, "carol", c)
	player.signIn("carol")
	for _, tc := range []struct {
		session *v1alpha1.Session
		through string
		want    string
	}{{onB, testenv.ReplicaA, "still-on-b-42"}, {onA, testenv.ReplicaB, "via-a-42"}} {
		s := sessionClosedIn(t, ctx, admin, tc.session.Name, 15*time.Second)
		rec := s.Status.Recording
		if want := "s3://" + testenv.RecordingBucket + "/" + testenv.RecordingPrefix + "/" + s.Name + "/"; rec == nil || rec.Location != want || rec.SHA256 == "" {
			t.Errorf("the recording of %s (relayed by %s) is %+v, want a sealed one at %s", s.Name, s.Status.Server, rec, want)
		}
		if s3 != nil {
			objects, err := os.ReadDir(filepath.Join(s3.ObjectDir, testenv.RecordingBucket, testenv.RecordingPrefix, s.Name))
			if err != nil || !slices.ContainsFunc(objects, func(e os.DirEntry) bool { return e.Name() == "seal.json" }) {
				t.Errorf("the bucket holds %v for %s: %v; want its chunks and seal.json", objects, s.Name, err)
			}
		}
		routeAPI(t, ctx, tb, tc.through)
		player.open("/sessions/"+s.Name, `[data-testid="replay"]`)
		if d := player.text(`[data-testid="session-digest"]`); d != recordingDigest(s) {
			t.Errorf("the page of %s shows the digest %q, want the Session's %q", s.Name, d, recordingDigest(s))
		}
		if lines := player.replayText(); !containsLine(lines, tc.want) {
			t.Errorf("the replay through %s of %s, recorded by %s, lacks %s; it shows:\n%s", tc.through, s.Name, s.Status.Server, tc.want, strings.Join(lines, "\n"))
		}
		player.screenshot(pageShots(), "replicas-replay-of-"+s.Status.Server+"-through-"+tc.through)
	}
	t.Logf("whole test, the two-replica testbed included: %s", time.Since(begin).Round(10*time.Millisecond))
}

// startTwoReplicas starts a testbed of its own with SecondReplica: A and B
// on one PostgreSQL database and one S3 bucket, dev's agent on B. If t
// fails, its logs are kept in _output/console-logs/<test>/testbed.
func startTwoReplicas(t *testing.T) *testenv.Testbed {
	t.Helper()
	dir, err := os.MkdirTemp("", "janus-console-replicas-")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	workDir := filepath.Join(dir, "testbed")
	keep := func(logDir string) {
		dest := filepath.Join(repoRoot, "_output", "console-logs", sanitize(t.Name()), "testbed")
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err == nil {
			_ = os.RemoveAll(dest)
			err = os.Rename(logDir, dest)
			if err == nil {
				t.Logf("the two-replica testbed's logs: %s", dest)
				return
			}
		}
		t.Logf("keeping the two-replica testbed's logs: %v", err)
	}
	tb, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: binaries, Progress: os.Stderr,
		Targets:       []testenv.TargetSpec{{Name: "dev"}},
		SecondReplica: true,
	})
	if err != nil {
		keep(filepath.Join(workDir, "logs"))
		_ = os.RemoveAll(dir)
		t.Fatalf("starting a testbed with two replicas: %v", err)
	}
	t.Cleanup(func() {
		if err := tb.Stop(); err != nil {
			t.Errorf("stopping the two-replica testbed: %v", err)
		}
		if t.Failed() {
			keep(tb.LogDir())
		}
		_ = os.RemoveAll(dir)
	})
	return tb
}

// routeAPI sends the aggregator's new connections to replica name only
// and waits until the API answers through it.
func routeAPI(t *testing.T, ctx context.Context, tb *testenv.Testbed, name string) {
	t.Helper()
	if err := tb.RouteAPIService(name); err != nil {
		t.Fatal(err)
	}
	admin := janusClient(t, tb, "admin")
	pollUntil(t, ctx, "the API answering through "+name, 30*time.Second, func(ctx context.Context) (bool, error) {
		_, err := admin.JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}

// logSays waits until replica's log holds line.
func logSays(t *testing.T, tb *testenv.Testbed, replica, line string) {
	t.Helper()
	log := "janus-apiserver.log"
	if replica == testenv.ReplicaB {
		log = "janus-apiserver-b.log"
	}
	pollUntil(t, context.Background(), log+" saying "+line, 5*time.Second, func(context.Context) (bool, error) {
		data, err := os.ReadFile(filepath.Join(tb.LogDir(), log))
		return err == nil && strings.Contains(string(data), line), nil
	})
}

// pollUntil checks cond every 20 ms until it holds, or fails t after
// timeout.
func pollUntil(t *testing.T, ctx context.Context, what string, timeout time.Duration, cond wait.ConditionWithContextFunc) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, cond); err != nil {
		t.Fatalf("waiting %s for %s: %v", timeout, what, err)
	}
}
