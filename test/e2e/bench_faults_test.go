package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// The fault part of the soak (issue 14): 1,000 requests created, approved,
// exec'd into and expired across two replicas on a PostgreSQL server of
// the benchmark's own and three target clusters, while the Lease holder is
// killed with SIGKILL, one agent is killed with SIGKILL, and PostgreSQL is
// restarted, then killed with SIGKILL; each comes back. Afterwards no acknowledged write may be
// lost, no grant may be left in a target for a request that is not
// Active, the requests that expire after the last recovery must expire on
// time (p99 ≤ 1 s late), and every session must have survived or ended
// with a reason its client was given.
//
//	go test ./test/e2e -run '^$' -bench '^BenchmarkFaults$' -benchtime 1x -timeout 30m

const (
	faultRequests = 1000
	// faultRate is how many requests are begun per second, by
	// faultClients at most at once: about 140 s for the 1,000, so that the
	// faults fall in the first 115 s and about 200 requests expire after
	// the last recovery.
	faultRate    = 7
	faultClients = 16
	// faultDuration is how long each request is granted for; it expires
	// within the run.
	faultDuration = 10 * time.Second
	// faultExecEvery: every tenth request is exec'd into once it is
	// Active, a 3 s session; exec'ing all of them would make the sessions,
	// not the requests, the load on two cores.
	faultExecEvery = 10
	// faultSettleTimeout bounds the wait, after the last request, for
	// every request to end and every grant to leave its target.
	faultSettleTimeout = 3 * time.Minute
	// faultAgentTarget is the target whose agent is killed.
	faultAgentTarget = "staging"
	// faultAgentDown is how long the killed agent stays down: grants of
	// its cluster expire meanwhile, and must go when it reconnects.
	faultAgentDown = 5 * time.Second
	// faultMinLateExpiries is the fewest requests that must expire after
	// the last recovery for the lateness figure to mean something.
	faultMinLateExpiries = 100
)

// faultTargets are the target clusters, each with an agent: dev and prod
// are the demo Clusters, staging registers itself.
var faultTargets = []string{"dev", "prod", faultAgentTarget}

// The faults, in order, at these offsets from the first request (or as
// soon after as the one before has recovered).
var (
	faultLeaderKillAt      = 20 * time.Second
	faultAgentKillAt       = 60 * time.Second
	faultPostgresRestartAt = 100 * time.Second
	faultPostgresCrashAt   = 115 * time.Second
)

// BenchmarkFaults runs the load and the faults once per iteration on a
// testbed of its own, and fails if a guarantee was broken.
func BenchmarkFaults(b *testing.B) {
	tb, pg := startFaultTestbed(b)
	for b.Loop() {
		r := newFaultRun(b, tb, pg)
		r.run()
		r.check()
		r.report()
	}
}

// startFaultTestbed: replicas A and B on a database of a PostgreSQL
// server of the benchmark's own, three targets with their agents, and no
// bound on open sessions (the long sessions and those cut by the faults
// would otherwise meet alice's limit of 16 and be refused).
func startFaultTestbed(b *testing.B) (*testenv.Testbed, *testenv.PostgresServer) {
	b.Helper()
	dir, err := os.MkdirTemp("", "janus-e2e-faults-")
	if err != nil {
		b.Fatal(err)
	}
	workDir := filepath.Join(dir, "testbed")
	logDir := filepath.Join(workDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	pg, err := testenv.StartPostgres(ctx, logDir)
	if err != nil {
		b.Fatalf("starting PostgreSQL of the benchmark's own: %v", err)
	}
	var targets []testenv.TargetSpec
	for _, name := range faultTargets {
		targets = append(targets, testenv.TargetSpec{Name: name})
	}
	tb, err := testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: binaries, Progress: os.Stderr,
		JanusArgs:     append([]string{"--max-sessions-per-user=0", "--max-sessions-per-request=0"}, testbedJanusArgs...),
		Targets:       targets,
		SecondReplica: true,
		PostgresURL:   pg.URL(),
	})
	if err != nil {
		keepLogs(logDir)
		_ = pg.Stop()
		_ = os.RemoveAll(dir)
		b.Fatalf("starting the fault testbed: %v", err)
	}
	b.Cleanup(func() {
		if b.Failed() || os.Getenv("JANUS_E2E_KEEP_LOGS") != "" {
			keepLogs(logDir)
		}
		if err := tb.Stop(); err != nil {
			b.Errorf("stopping the fault testbed: %v", err)
		}
		if err := pg.Stop(); err != nil {
			b.Errorf("stopping PostgreSQL: %v", err)
		}
		_ = os.RemoveAll(dir)
	})
	return tb, pg
}

// faultEvent is one fault and how the testbed came back from it.
type faultEvent struct {
	what      string
	at        time.Time
	recovered time.Time
	// figures are named durations of the recovery, for the report.
	figures []faultFigure
}

type faultFigure struct {
	name   string
	metric string
	d      time.Duration
}

type faultRun struct {
	b     *testing.B
	tb    *testenv.Testbed
	pg    *testenv.PostgresServer
	batch string

	client   *faultClient
	admin    versioned.Interface
	kube     kubernetes.Interface
	aliceCfg *rest.Config
	targets  map[string]kubernetes.Interface
	removals map[string]*grantRemovals

	requests []*faultRequest
	// long are the requests, one per target, the long sessions run on.
	long     []*faultRequest
	errs     clientErrors
	sessions sessionTally

	start     time.Time
	loadEnded time.Time
	faults    []faultEvent
	// recovered is when the last fault had been recovered from.
	recovered time.Time
	settled   time.Duration

	// Set by check.
	final                      map[string]*v1alpha1.AccessRequest
	lostCreates, lostApprovals []string
	leftoverGrants             []string
	stuck                      []string
	lateAfter, lateDuring      []time.Duration
	unremoved                  []string
	sessionsLeftOpen           []string
	sessionsWithoutReason      []string
}

func newFaultRun(b *testing.B, tb *testenv.Testbed, pg *testenv.PostgresServer) *faultRun {
	r := &faultRun{b: b, tb: tb, pg: pg, batch: strings.ToLower(rand.String(5)),
		targets: map[string]kubernetes.Interface{}, removals: map[string]*grantRemovals{}}
	r.client = &faultClient{alice: testbedClient(b, tb, "alice"), carol: testbedClient(b, tb, "carol"), batch: r.batch, errs: &r.errs}
	r.admin = testbedClient(b, tb, "admin")
	adminCfg, err := tb.RESTConfigFor("admin")
	if err != nil {
		b.Fatal(err)
	}
	r.kube = kubernetes.NewForConfigOrDie(adminCfg)
	if r.aliceCfg, err = tb.RESTConfigFor("alice"); err != nil {
		b.Fatal(err)
	}
	for _, name := range faultTargets {
		c, err := tb.Target(name).Client()
		if err != nil {
			b.Fatal(err)
		}
		r.targets[name] = c
		r.removals[name] = watchGrantRemovals(b, c)
	}
	for i := range faultRequests {
		r.requests = append(r.requests, &faultRequest{
			name: fmt.Sprintf("fault-%s-%04d", r.batch, i), cluster: faultTargets[i%len(faultTargets)],
		})
	}
	return r
}

// run starts the long sessions, the load and the faults, and waits until
// every request has ended and no grant is left, or faultSettleTimeout.
func (r *faultRun) run() {
	stopLong := make(chan struct{})
	var longWG sync.WaitGroup
	for _, cluster := range faultTargets {
		fr := &faultRequest{name: fmt.Sprintf("fault-%s-long-%s", r.batch, cluster), cluster: cluster}
		if !r.client.create(fr, 20*time.Minute) || !r.client.approve(fr) {
			r.b.Fatalf("the long-session request %s: %s", fr.name, fr.gaveUp)
		}
		r.long = append(r.long, fr)
		longWG.Go(func() { r.longSessions(fr, stopLong) })
	}

	r.start = time.Now()
	faultsDone := make(chan struct{})
	go func() {
		defer close(faultsDone)
		r.injectFaults()
	}()
	r.load()
	r.loadEnded = time.Now()
	<-faultsDone
	close(stopLong)
	longWG.Wait()
	for _, fr := range r.long {
		r.withdraw(fr.name)
	}
	r.settle()
}

// load begins faultRate requests a second on faultClients clients: each
// creates, approves, and for every faultExecEvery-th request opens a
// session once it is Active.
func (r *faultRun) load() {
	jobs := make(chan *faultRequest, len(r.requests))
	var clients, sessions sync.WaitGroup
	for range faultClients {
		clients.Go(func() {
			for fr := range jobs {
				if !r.client.create(fr, faultDuration) || !r.client.approve(fr) {
					continue
				}
				if slices.Index(r.requests, fr)%faultExecEvery == 0 {
					sessions.Go(func() { r.shortSession(fr) })
				}
			}
		})
	}
	tick := time.NewTicker(time.Second / faultRate)
	defer tick.Stop()
	for i, fr := range r.requests {
		if i > 0 {
			<-tick.C
		}
		jobs <- fr
	}
	close(jobs)
	clients.Wait()
	sessions.Wait()
}

// shortSession opens one 3 s session on fr once it is Active; an exec
// refused before any output is tried again while the request is Active.
func (r *faultRun) shortSession(fr *faultRequest) {
	ar := r.waitActive(fr.name, 2*time.Minute)
	if ar == nil {
		r.sessions.add(faultSession{outcome: sessionRefused, reason: "the request never became Active", cluster: fr.cluster})
		return
	}
	for attempt := 1; ; attempt++ {
		res := tickSession(r.aliceCfg, fr.name, fr.cluster, 15, 200*time.Millisecond, false)
		if res.outcome != sessionRefused || attempt == 3 || time.Until(ar.Status.ExpiresAt.Time) < 4*time.Second {
			r.sessions.add(res)
			return
		}
		retryPause(attempt + 2)
	}
}

// longSessions keeps one 30 s session open on fr, one after the other,
// until stop: the sessions the faults fall on.
func (r *faultRun) longSessions(fr *faultRequest, stop <-chan struct{}) {
	if r.waitActive(fr.name, 2*time.Minute) == nil {
		r.b.Errorf("the long-session request %s never became Active", fr.name)
		return
	}
	for attempt := 1; ; attempt++ {
		select {
		case <-stop:
			return
		default:
		}
		res := tickSession(r.aliceCfg, fr.name, fr.cluster, 60, 500*time.Millisecond, true)
		r.sessions.add(res)
		if res.outcome == sessionRefused {
			retryPause(attempt + 3)
		} else {
			attempt = 0
		}
	}
}

func (r *faultRun) waitActive(name string, timeout time.Duration) *v1alpha1.AccessRequest {
	var active *v1alpha1.AccessRequest
	_ = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		ar, err := r.admin.JanusV1alpha1().AccessRequests().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		switch ar.Status.Phase {
		case v1alpha1.AccessRequestActive:
			active = ar
			return true, nil
		case v1alpha1.AccessRequestPending, v1alpha1.AccessRequestApproved:
			return false, nil
		}
		return false, fmt.Errorf("request %s is %s", name, ar.Status.Phase)
	})
	return active
}

func (r *faultRun) withdraw(name string) {
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := r.client.alice.JanusV1alpha1().AccessRequests().Withdraw(ctx, name, &v1alpha1.Withdrawal{Reason: "soak done"}, metav1.CreateOptions{})
		return err == nil || apierrors.IsConflict(err), nil
	})
	if err != nil {
		r.b.Errorf("withdrawing %s: %v", name, err)
	}
}

// injectFaults runs the faults in order, each once the one before
// has recovered and not before its offset. It runs beside the load, so a
// fault that goes wrong fails the benchmark with Errorf and ends the
// faults; the run goes on to its checks.
func (r *faultRun) injectFaults() {
	for _, f := range []struct {
		at  time.Duration
		run func() (faultEvent, error)
	}{
		{faultLeaderKillAt, r.killLeader},
		{faultAgentKillAt, r.killAgent},
		{faultPostgresRestartAt, r.restartPostgres},
		{faultPostgresCrashAt, r.crashPostgres},
	} {
		// Scheduling the fault, not waiting for a condition.
		time.Sleep(time.Until(r.start.Add(f.at)))
		ev, err := f.run()
		if err != nil {
			r.b.Errorf("faults: %s: %v", ev.what, err)
			r.recovered = time.Now()
			return
		}
		r.faults = append(r.faults, ev)
		r.recovered = ev.recovered
		r.b.Logf("faults: %s at +%s, recovered at +%s", ev.what, r.since(ev.at), r.since(ev.recovered))
		if name := r.tb.Exited(); name != "" {
			r.b.Errorf("faults: %s exited on its own by the end of the %s; see its log", name, ev.what)
			return
		}
	}
}

func (r *faultRun) since(t time.Time) time.Duration {
	return t.Sub(r.start).Round(100 * time.Millisecond)
}

func (r *faultRun) leaseHolder(ctx context.Context) string {
	lease, err := r.kube.CoordinationV1().Leases("janus").Get(ctx, "janus-lifecycle-controller", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// killLeader kills the Lease holder with SIGKILL, waits for the other
// replica to take the Lease, and starts the killed one again.
func (r *faultRun) killLeader() (faultEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var holder string
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		holder = r.leaseHolder(ctx)
		return slices.Contains(r.tb.Replicas(), holder), nil
	})
	if holder == "" {
		return faultEvent{what: "SIGKILL of the Lease holder"}, errors.New("no replica holds the Lease")
	}
	other := testenv.ReplicaA
	if holder == testenv.ReplicaA {
		other = testenv.ReplicaB
	}
	ev := faultEvent{what: "SIGKILL of the Lease holder " + holder, at: time.Now()}
	if err := r.tb.KillReplica(holder); err != nil {
		return ev, err
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		return r.leaseHolder(ctx) == other, nil
	})
	if err != nil {
		return ev, fmt.Errorf("%s did not take the Lease within 2 minutes", other)
	}
	took := time.Since(ev.at)
	ev.figures = append(ev.figures, faultFigure{other + " took the Lease", "takeover-s", took})
	if err := r.tb.StartReplica(ctx, holder); err != nil {
		return ev, fmt.Errorf("starting %s again: %w", holder, err)
	}
	ev.figures = append(ev.figures, faultFigure{holder + " ready again", "", time.Since(ev.at)})
	// The agents dial B: if B was the one killed, they are back once
	// their tunnels are.
	for _, name := range faultTargets {
		if err := r.tb.Target(name).WaitConnected(ctx, true); err != nil {
			return ev, fmt.Errorf("the agent of %s after %s's restart: %w", name, holder, err)
		}
	}
	ev.recovered = time.Now()
	return ev, nil
}

// killAgent kills one target's agent with SIGKILL, waits until Janus
// marks it disconnected, and starts it again faultAgentDown after the
// kill.
func (r *faultRun) killAgent() (faultEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	target := r.tb.Target(faultAgentTarget)
	ev := faultEvent{what: "SIGKILL of the agent of " + faultAgentTarget, at: time.Now()}
	if err := target.KillAgent(); err != nil {
		return ev, err
	}
	noticed, cancelNoticed := context.WithTimeout(ctx, 30*time.Second)
	if err := target.WaitConnected(noticed, false); err == nil {
		ev.figures = append(ev.figures, faultFigure{"Janus saw it disconnected", "agent-disconnected-s", time.Since(ev.at)})
	} else {
		ev.figures = append(ev.figures, faultFigure{"Janus had not marked it disconnected when it was restarted", "", time.Since(ev.at)})
	}
	cancelNoticed()
	// Scheduling the restart, as a crash-looping Pod's back-off would.
	time.Sleep(time.Until(ev.at.Add(faultAgentDown)))
	if err := target.StartAgent(ctx); err != nil {
		return ev, fmt.Errorf("starting the agent again: %w", err)
	}
	ev.recovered = time.Now()
	ev.figures = append(ev.figures, faultFigure{"agent connected again", "agent-down-s", ev.recovered.Sub(ev.at)})
	return ev, nil
}

// restartPostgres restarts PostgreSQL with a fast shutdown, as an
// administrator would.
func (r *faultRun) restartPostgres() (faultEvent, error) {
	return r.postgresDown("restart of PostgreSQL (fast shutdown)", "postgres", r.pg.Restart)
}

// crashPostgres kills every process of PostgreSQL with SIGKILL and starts
// it again: what it had acknowledged must come back through its crash
// recovery.
func (r *faultRun) crashPostgres() (faultEvent, error) {
	return r.postgresDown("SIGKILL of PostgreSQL (crash recovery)", "postgres-crash", r.pg.Crash)
}

// postgresDown runs bounce, and counts the testbed recovered when five
// reads in a row through the aggregator, to whichever replica, reached the
// database.
func (r *faultRun) postgresDown(what, metric string, bounce func(context.Context) error) (faultEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ev := faultEvent{what: what, at: time.Now()}
	if err := bounce(ctx); err != nil {
		return ev, err
	}
	ev.figures = append(ev.figures, faultFigure{"PostgreSQL taking connections again", metric + "-down-s", time.Since(ev.at)})
	inARow := 0
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		// A list without resourceVersion is read from storage, not a cache.
		_, err := r.admin.JanusV1alpha1().AccessRequests().List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			inARow = 0
			return false, nil
		}
		inARow++
		return inARow == 5, nil
	})
	if err != nil {
		return ev, errors.New("the API did not read from PostgreSQL within 2 minutes")
	}
	ev.recovered = time.Now()
	ev.figures = append(ev.figures, faultFigure{"API reading from it again", metric + "-recovery-s", ev.recovered.Sub(ev.at)})
	return ev, nil
}

// settle waits until every request of the run has ended (or was never
// approved) with its grant removed, and no object of a grant of the run
// is left in any target.
func (r *faultRun) settle() {
	begin := time.Now()
	var left []string
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, faultSettleTimeout, true, func(ctx context.Context) (bool, error) {
		left = left[:0]
		list, err := r.admin.JanusV1alpha1().AccessRequests().List(ctx, metav1.ListOptions{LabelSelector: batchLabel + "=" + r.batch})
		if err != nil {
			return false, nil
		}
		for i := range list.Items {
			ar := &list.Items[i]
			switch ar.Status.Phase {
			case v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive:
				left = append(left, ar.Name+" "+string(ar.Status.Phase))
			default:
				if grantMayBeHeld(ar) {
					left = append(left, ar.Name+" "+string(ar.Status.Phase)+" with its grant held")
				}
			}
		}
		objs, err := r.grantObjects(ctx)
		if err != nil {
			return false, nil
		}
		left = append(left, objs...)
		return len(left) == 0, nil
	})
	r.settled = time.Since(begin)
	if err != nil {
		r.b.Logf("faults: not settled within %s: %d left, e.g. %v", faultSettleTimeout, len(left), left[:min(len(left), 10)])
	}
}

// grantObjects lists the ServiceAccounts and RoleBindings of grants of
// this run in every target.
func (r *faultRun) grantObjects(ctx context.Context) ([]string, error) {
	var out []string
	prefix := "fault-" + r.batch + "-"
	for _, name := range faultTargets {
		c := r.targets[name]
		sel := metav1.ListOptions{LabelSelector: requestLabel}
		sas, err := c.CoreV1().ServiceAccounts("").List(ctx, sel)
		if err != nil {
			return nil, err
		}
		for _, o := range sas.Items {
			if req := o.Labels[requestLabel]; strings.HasPrefix(req, prefix) {
				out = append(out, fmt.Sprintf("%s: serviceaccount/%s/%s of %s", name, o.Namespace, o.Name, req))
			}
		}
		rbs, err := c.RbacV1().RoleBindings("").List(ctx, sel)
		if err != nil {
			return nil, err
		}
		for _, o := range rbs.Items {
			if req := o.Labels[requestLabel]; strings.HasPrefix(req, prefix) {
				out = append(out, fmt.Sprintf("%s: rolebinding/%s/%s of %s", name, o.Namespace, o.Name, req))
			}
		}
	}
	return out, nil
}

// check compares what the clients were told with what the API and the
// targets hold now, and fails the benchmark for every broken guarantee.
func (r *faultRun) check() {
	b := r.b
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	list, err := r.admin.JanusV1alpha1().AccessRequests().List(ctx, metav1.ListOptions{LabelSelector: batchLabel + "=" + r.batch})
	if err != nil {
		b.Fatalf("listing the run's requests: %v", err)
	}
	r.final = map[string]*v1alpha1.AccessRequest{}
	for i := range list.Items {
		r.final[list.Items[i].Name] = &list.Items[i]
	}

	// No acknowledged write lost.
	for _, fr := range append(slices.Clone(r.requests), r.long...) {
		ar := r.final[fr.name]
		switch {
		case fr.createAcked && ar == nil:
			r.lostCreates = append(r.lostCreates, fr.name)
		case fr.approveAcked && ar != nil && !approvedBy(ar, "carol"):
			r.lostApprovals = append(r.lostApprovals, fmt.Sprintf("%s (%s, approvals %v)", fr.name, ar.Status.Phase, ar.Status.Approvals))
		}
		if fr.approved() && ar != nil && ar.Status.Phase != v1alpha1.AccessRequestExpired && ar.Status.Phase != v1alpha1.AccessRequestWithdrawn {
			r.stuck = append(r.stuck, fmt.Sprintf("%s %s: %s", fr.name, ar.Status.Phase, ar.Status.Message))
		}
	}

	// No grant left for a request that is not Active: none is by now.
	objs, err := r.grantObjects(ctx)
	if err != nil {
		b.Fatalf("listing grants in the targets: %v", err)
	}
	for _, o := range objs {
		req := o[strings.LastIndex(o, " ")+1:]
		if ar := r.final[req]; ar == nil || ar.Status.Phase != v1alpha1.AccessRequestActive {
			r.leftoverGrants = append(r.leftoverGrants, o)
		}
	}

	// Expiry lateness: from expiresAt until the target saw the grant's
	// last object deleted.
	for _, fr := range r.requests {
		ar := r.final[fr.name]
		if ar == nil || ar.Status.Phase != v1alpha1.AccessRequestExpired || ar.Status.ExpiresAt == nil {
			continue
		}
		removed, ok := r.removals[fr.cluster].removedAt(fr.name)
		if !ok {
			r.unremoved = append(r.unremoved, fr.name)
			continue
		}
		late := removed.Sub(ar.Status.ExpiresAt.Time)
		if ar.Status.ExpiresAt.After(r.recovered) {
			r.lateAfter = append(r.lateAfter, late)
		} else {
			r.lateDuring = append(r.lateDuring, late)
		}
	}

	slices.Sort(r.lateAfter)
	slices.Sort(r.lateDuring)

	// Every Session of the run closed, with a reason.
	sessions, err := r.admin.JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatalf("listing sessions: %v", err)
	}
	for _, s := range sessions.Items {
		if !strings.HasPrefix(s.Spec.Request, "fault-"+r.batch+"-") {
			continue
		}
		switch {
		case s.Status.Phase != v1alpha1.SessionClosed:
			r.sessionsLeftOpen = append(r.sessionsLeftOpen, s.Name+" of "+s.Spec.Request)
		case s.Status.EndReason == "":
			r.sessionsWithoutReason = append(r.sessionsWithoutReason, s.Name+" of "+s.Spec.Request)
		}
	}

	errorIf := func(what string, items []string) {
		if len(items) > 0 {
			b.Errorf("faults: %d %s, e.g. %v", len(items), what, items[:min(len(items), 10)])
		}
	}
	errorIf("acknowledged creates lost", r.lostCreates)
	errorIf("acknowledged approvals lost", r.lostApprovals)
	errorIf("grants left in a target for a request that is not Active", r.leftoverGrants)
	errorIf("approved requests that did not run their course", r.stuck)
	errorIf("expired requests whose grant the targets never saw deleted", r.unremoved)
	errorIf("Sessions left open", r.sessionsLeftOpen)
	errorIf("Sessions closed without a reason", r.sessionsWithoutReason)
	var silent []string
	for _, res := range r.sessions.results {
		if res.outcome == sessionSilent {
			silent = append(silent, res.cluster+": "+res.reason)
		}
	}
	errorIf("sessions that ended silently", silent)
	if len(r.lateAfter) < faultMinLateExpiries {
		b.Errorf("faults: only %d requests expired after the last recovery, want at least %d for the lateness figure", len(r.lateAfter), faultMinLateExpiries)
	} else if p99 := percentile(r.lateAfter, 99); p99 > time.Second {
		b.Errorf("faults: expiry after recovery p99 %s late, want ≤ 1 s", p99)
	}
}

// report prints the figures, as metrics and as a summary.
func (r *faultRun) report() {
	b := r.b
	var created, createAmb, approved, approveAmb, gaveUp, retries int
	for _, fr := range r.requests {
		created += btoi(fr.createAcked)
		createAmb += btoi(fr.createAmbiguous)
		approved += btoi(fr.approveAcked)
		approveAmb += btoi(fr.approveAmbiguous)
		gaveUp += btoi(fr.gaveUp != "")
		retries += max(fr.createAttempts-1, 0) + max(fr.approveAttempts-1, 0)
	}
	phases := map[v1alpha1.AccessRequestPhase]int{}
	for _, ar := range r.final {
		phases[ar.Status.Phase]++
	}
	b.ReportMetric(float64(created), "creates-acked")
	b.ReportMetric(float64(approved), "approvals-acked")
	b.ReportMetric(float64(retries), "retries")
	b.ReportMetric(float64(len(r.lostCreates)+len(r.lostApprovals)), "lost-writes")
	b.ReportMetric(float64(len(r.leftoverGrants)), "leftover-grants")
	if len(r.lateAfter) > 0 {
		b.ReportMetric(ms(percentile(r.lateAfter, 50)), "expiry-p50-ms")
		b.ReportMetric(ms(percentile(r.lateAfter, 99)), "expiry-p99-ms")
	}
	b.ReportMetric(float64(r.sessions.count(sessionCompleted)), "sessions-survived")
	b.ReportMetric(float64(r.sessions.count(sessionCut)), "sessions-cut")
	b.ReportMetric(float64(r.sessions.count(sessionSilent)), "sessions-silent")
	for _, ev := range r.faults {
		for _, f := range ev.figures {
			if f.metric != "" {
				b.ReportMetric(f.d.Seconds(), f.metric)
			}
		}
	}

	var s strings.Builder
	fmt.Fprintf(&s, "faults: %d requests over %d targets (%s), 2 replicas on PostgreSQL; load %s, settled %s after it\n",
		len(r.requests), len(faultTargets), strings.Join(faultTargets, ", "), r.loadEnded.Sub(r.start).Round(time.Second), r.settled.Round(time.Second))
	for _, ev := range r.faults {
		fmt.Fprintf(&s, "  +%-7s %s", r.since(ev.at), ev.what)
		for _, f := range ev.figures {
			fmt.Fprintf(&s, "; %s after %s", f.name, f.d.Round(100*time.Millisecond))
		}
		s.WriteString("\n")
	}
	fmt.Fprintf(&s, "  writes: %d creates acknowledged (+%d written by an attempt that failed), %d approvals acknowledged (+%d), %d given up, %d retries\n",
		created, createAmb, approved, approveAmb, gaveUp, retries)
	for _, fr := range r.requests {
		if fr.gaveUp != "" {
			fmt.Fprintf(&s, "    given up: %s (%s): %s\n", fr.name, fr.cluster, truncate(fr.gaveUp, 300))
		}
	}
	fmt.Fprintf(&s, "  lost: %d acknowledged creates, %d acknowledged approvals; %d approved requests that did not run their course\n", len(r.lostCreates), len(r.lostApprovals), len(r.stuck))
	fmt.Fprintf(&s, "  final phases: %v\n", phases)
	fmt.Fprintf(&s, "  grants left in targets for requests not Active: %d; expired requests whose grant was never seen deleted: %d\n", len(r.leftoverGrants), len(r.unremoved))
	fmt.Fprintf(&s, "  expiry lateness, grant gone in the target after expiresAt: after the last recovery (n=%d) %s; during the faults (n=%d) %s\n",
		len(r.lateAfter), lateness(r.lateAfter), len(r.lateDuring), lateness(r.lateDuring))
	var long int
	for _, res := range r.sessions.results {
		long += btoi(res.long)
	}
	fmt.Fprintf(&s, "  sessions: %d (%d long, %d short): %d survived, %d cut with a reason, %d refused before output, %d silent; Sessions left open %d, closed without a reason %d\n",
		len(r.sessions.results), long, len(r.sessions.results)-long, r.sessions.count(sessionCompleted), r.sessions.count(sessionCut),
		r.sessions.count(sessionRefused), r.sessions.count(sessionSilent), len(r.sessionsLeftOpen), len(r.sessionsWithoutReason))
	for _, outcome := range []sessionOutcome{sessionCut, sessionRefused, sessionSilent} {
		for _, line := range countLines(r.sessions.reasons(outcome)) {
			fmt.Fprintf(&s, "    %s: %s\n", outcome, line)
		}
	}
	for _, res := range r.sessions.results {
		if res.outcome == sessionCompleted {
			continue
		}
		kind := "short"
		if res.long {
			kind = "long"
		}
		fmt.Fprintf(&s, "    +%s..+%s %s session on %s, %s after %d of %d lines: %s\n", r.since(res.began), r.since(res.ended),
			kind, res.cluster, res.outcome, res.ticks, res.want, truncate(res.reason, 300))
	}
	fmt.Fprintf(&s, "  client errors retried: %d\n", r.errs.total())
	for _, line := range r.errs.summary() {
		fmt.Fprintf(&s, "    %s\n", line)
	}
	b.Log(s.String())
}

func countLines(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	var lines []string
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%d× %s", m[k], k))
	}
	return lines
}

func btoi(v bool) int {
	if v {
		return 1
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// lateness is p50, p99 and max of sorted samples, as the metrics have them.
func lateness(sorted []time.Duration) string {
	if len(sorted) == 0 {
		return "none"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s", percentile(sorted, 50).Round(100*time.Microsecond),
		percentile(sorted, 99).Round(100*time.Microsecond), sorted[len(sorted)-1].Round(100*time.Microsecond))
}
