package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned/fake"
	"github.com/infroware/janus/pkg/generated/informers/externalversions"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// start is the fake clock's time when a test begins. It has no
// sub-second part, like the times the API keeps.
var start = time.Date(2030, time.March, 4, 10, 0, 0, 0, time.UTC)

// waitTimeout bounds every wait of these tests; nothing they wait for
// takes more than milliseconds when the controller does its job.
const waitTimeout = 10 * time.Second

// fakeAgent records what the controller asks of an agent and fails on
// demand.
type fakeAgent struct {
	mu           sync.Mutex
	calls        []string
	ensured      []tunnel.GrantSpec
	reconciled   []tunnel.ReconcileRequest
	info         tunnel.AgentInfo
	ensureErr    error
	removeErr    error
	reconcileErr error
	infoErr      error
	// reconcileFailed is what Reconcile reports as not ensured.
	reconcileFailed map[string]string
}

func (a *fakeAgent) Info(context.Context) (tunnel.AgentInfo, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "info")
	return a.info, a.infoErr
}

func (a *fakeAgent) EnsureGrant(_ context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "ensure "+spec.Request)
	a.ensured = append(a.ensured, spec)
	if a.ensureErr != nil {
		return tunnel.GrantStatus{}, a.ensureErr
	}
	status := tunnel.GrantStatus{Request: spec.Request}
	for _, ns := range spec.Namespaces {
		status.Grants = append(status.Grants, tunnel.Grant{Namespace: ns, ServiceAccount: ns + "/janus-" + spec.Request, Role: "janus-exec", RoleBinding: "janus-" + spec.Request})
	}
	return status, nil
}

func (a *fakeAgent) RemoveGrant(_ context.Context, request string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "remove "+request)
	return a.removeErr
}

func (a *fakeAgent) Reconcile(_ context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, "reconcile")
	a.reconciled = append(a.reconciled, req)
	if a.reconcileErr != nil {
		return tunnel.ReconcileResult{}, a.reconcileErr
	}
	return tunnel.ReconcileResult{Failed: a.reconcileFailed}, nil
}

// callsOf returns the calls so far, e.g. "ensure r1", "remove r1",
// "reconcile", "info".
func (a *fakeAgent) callsOf() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *fakeAgent) reconciledSnapshot() []tunnel.ReconcileRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.reconciled)
}

func (a *fakeAgent) count(call string) int {
	n := 0
	for _, c := range a.callsOf() {
		if c == call {
			n++
		}
	}
	return n
}

func (a *fakeAgent) failRemovals(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.removeErr = err
}

// fakeAgents is the tunnel server of these tests: clusters whose agent is
// connected have a fakeAgent.
type fakeAgents struct {
	mu        sync.Mutex
	connected map[string]*fakeAgent
}

func (f *fakeAgents) Agent(cluster string) (Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a, ok := f.connected[cluster]; ok {
		return a, nil
	}
	return nil, tunnelserver.ErrNotConnected
}

func (f *fakeAgents) connect(cluster string) *fakeAgent {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connected == nil {
		f.connected = map[string]*fakeAgent{}
	}
	a := &fakeAgent{info: tunnel.AgentInfo{Version: "v1.2.3", KubernetesVersion: "v1.37.2", Namespaces: []string{"payments", "default", "payments"}}}
	f.connected[cluster] = a
	return a
}

// testClock is a fake clock that remembers when the timers made on it go
// off, so a test can wait until the work queue has armed a timer before
// it steps the clock past it.
type testClock struct {
	*testingclock.FakeClock
	mu      sync.Mutex
	timers  []time.Time
	tickers []time.Duration
}

func (c *testClock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	c.timers = append(c.timers, c.Now().Add(d))
	c.mu.Unlock()
	return c.FakeClock.NewTimer(d)
}

func (c *testClock) NewTicker(d time.Duration) clock.Ticker {
	c.mu.Lock()
	c.tickers = append(c.tickers, d)
	c.mu.Unlock()
	return c.FakeClock.NewTicker(d)
}

// armed counts the timers made to go off at at.
func (c *testClock) armed(at time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.Equal(at) {
			n++
		}
	}
	return n
}

// ticking counts the tickers made with period d.
func (c *testClock) ticking(d time.Duration) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, p := range c.tickers {
		if p == d {
			n++
		}
	}
	return n
}

// harness is a controller on a fake clientset, its informers, a fake
// clock and fake agents.
type harness struct {
	t        *testing.T
	ctx      context.Context
	client   *fake.Clientset
	clock    *testClock
	agents   *fakeAgents
	recorder *record.FakeRecorder
	c        *Controller
}

func newHarness(t *testing.T, opts Options, objects ...runtime.Object) *harness {
	t.Helper()
	h := &harness{
		t:        t,
		ctx:      t.Context(),
		client:   fake.NewSimpleClientset(objects...),
		clock:    &testClock{FakeClock: testingclock.NewFakeClock(start)},
		agents:   &fakeAgents{},
		recorder: record.NewFakeRecorder(100),
	}
	opts.Clock = h.clock
	opts.Workers = 1
	factory := externalversions.NewSharedInformerFactory(h.client, 0)
	v1 := factory.Janus().V1alpha1()
	h.c = New(h.client, v1.AccessRequests(), v1.Clusters(), h.agents, h.recorder, opts)
	factory.Start(h.ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(h.ctx.Done()) {
		if !ok {
			t.Fatalf("informer of %v did not sync", typ)
		}
	}
	t.Cleanup(func() {
		h.c.queue.ShutDown()
		factory.Shutdown()
	})
	return h
}

// run starts the controller's workers; they stop with the test.
func (h *harness) run() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.c.Run(h.ctx); err != nil {
			h.t.Errorf("running the controller: %v", err)
		}
	}()
	h.t.Cleanup(func() { <-done })
	h.eventually("the controller to lead", func() bool {
		h.c.agentsMu.Lock()
		defer h.c.agentsMu.Unlock()
		return h.c.leading
	})
}

// connectAgent connects a fake agent for cluster and tells the
// controller, as the tunnel server does.
func (h *harness) connectAgent(cluster string) *fakeAgent {
	agent := h.agents.connect(cluster)
	h.c.AgentConnected(cluster)
	h.t.Cleanup(func() { h.c.heartbeats.stop(cluster) })
	return agent
}

// sync syncs one request as a worker would, once.
func (h *harness) sync(name string) error {
	return h.c.sync(h.ctx, name)
}

// eventually polls cond until it holds or the wait times out.
func (h *harness) eventually(what string, cond func() bool) {
	h.t.Helper()
	err := wait.PollUntilContextTimeout(h.ctx, time.Millisecond, waitTimeout, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		h.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// waitArmed waits until the work queue has a timer for at.
func (h *harness) waitArmed(at time.Time) {
	h.t.Helper()
	h.eventually("a timer at "+at.Format(time.RFC3339Nano), func() bool { return h.clock.armed(at) > 0 })
}

// stepTo moves the fake clock to at.
func (h *harness) stepTo(at time.Time) {
	h.clock.SetTime(at)
}

// cached waits until the informer's copy of name satisfies cond, so a
// following sync sees what the last one wrote.
func (h *harness) cached(name string, cond func(*v1alpha1.AccessRequest) bool) {
	h.t.Helper()
	h.eventually("the cache to show "+name, func() bool {
		ar, err := h.c.requests.Get(name)
		return err == nil && cond(ar)
	})
}

// stored is name as the fake clientset holds it, or nil when it is gone.
func (h *harness) stored(name string) *v1alpha1.AccessRequest {
	h.t.Helper()
	obj, err := h.client.Tracker().Get(v1alpha1.SchemeGroupVersion.WithResource("accessrequests"), "", name)
	if err != nil {
		return nil
	}
	return obj.(*v1alpha1.AccessRequest)
}

// waitStored waits until the stored copy of name satisfies cond and
// returns it.
func (h *harness) waitStored(name, what string, cond func(*v1alpha1.AccessRequest) bool) *v1alpha1.AccessRequest {
	h.t.Helper()
	var got *v1alpha1.AccessRequest
	h.eventually(name+" "+what, func() bool {
		got = h.stored(name)
		return got != nil && cond(got)
	})
	return got
}

// statusWrites are the AccessRequest statuses the controller wrote.
func (h *harness) statusWrites() []*v1alpha1.AccessRequest {
	var out []*v1alpha1.AccessRequest
	for _, a := range h.client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetResource().Resource == "accessrequests" && a.GetSubresource() == "status" {
			out = append(out, u.GetObject().(*v1alpha1.AccessRequest))
		}
	}
	return out
}

// deletes are the AccessRequests the controller deleted, with the UID
// each deletion was conditional on.
func (h *harness) deletes() []string {
	var out []string
	for _, a := range h.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && a.GetResource().Resource == "accessrequests" {
			uid := "<none>"
			if p := d.GetDeleteOptions().Preconditions; p != nil && p.UID != nil {
				uid = string(*p.UID)
			}
			out = append(out, d.GetName()+" uid="+uid)
		}
	}
	return out
}

// events drains the events recorded so far, as "Type Reason Message".
func (h *harness) events() []string {
	var out []string
	for {
		select {
		case e := <-h.recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// failStatusWrites makes every status write of an AccessRequest fail with
// err.
func (h *harness) failStatusWrites(err error) {
	h.client.PrependReactor("update", "accessrequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		return a.GetSubresource() == "status", nil, err
	})
}

// The requests of these tests: created an hour before start by alice for
// namespace payments of cluster dev, for an hour.
func pendingRequest(name string) *v1alpha1.AccessRequest {
	return &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{
			Name:              name,
			UID:               types.UID(name + "-uid"),
			ResourceVersion:   "1",
			CreationTimestamp: metav1.NewTime(start.Add(-time.Hour)),
			Finalizers:        []string{v1alpha1.GrantFinalizer},
		},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster:    "dev",
			Namespaces: []string{"payments"},
			Duration:   metav1.Duration{Duration: time.Hour},
			Reason:     "incident 42",
			Requester:  v1alpha1.UserInfo{Username: "alice"},
		},
		Status: v1alpha1.AccessRequestStatus{Phase: v1alpha1.AccessRequestPending},
	}
}

// approvedRequest was approved by bob a minute before start.
func approvedRequest(name string) *v1alpha1.AccessRequest {
	return approvedRequestAt(name, start.Add(-time.Minute))
}

func approvedRequestAt(name string, at time.Time) *v1alpha1.AccessRequest {
	ar := pendingRequest(name)
	if created := at.Add(-time.Minute); created.Before(ar.CreationTimestamp.Time) {
		ar.CreationTimestamp = metav1.NewTime(created)
	}
	ar.Status.Phase = v1alpha1.AccessRequestApproved
	ar.Status.Approvals = []v1alpha1.Decision{{User: "bob", Time: metav1.NewTime(at)}}
	ar.Status.Message = "approved by bob"
	setCondition(ar, v1alpha1.ConditionApproved, metav1.ConditionTrue, "Approved", "approved by bob", at)
	return ar
}

// activeRequest was granted ten minutes before start and expires at
// expiresAt.
func activeRequest(name string, expiresAt time.Time) *v1alpha1.AccessRequest {
	return activeRequestAt(name, start.Add(-10*time.Minute), expiresAt)
}

func activeRequestAt(name string, activated, expiresAt time.Time) *v1alpha1.AccessRequest {
	ar := approvedRequestAt(name, activated.Add(-time.Minute))
	ar.Status.Phase = v1alpha1.AccessRequestActive
	ar.Status.ActivatedAt = &metav1.Time{Time: activated}
	ar.Status.ExpiresAt = &metav1.Time{Time: expiresAt}
	ar.Status.Message = "active"
	setCondition(ar, v1alpha1.ConditionProvisioned, metav1.ConditionTrue, reasonGranted, "granted", activated)
	return ar
}

// finishedRequest was active and reached phase at finished; its grant is
// confirmed removed then when grantRemoved.
func finishedRequest(name string, phase v1alpha1.AccessRequestPhase, finished time.Time, grantRemoved bool) *v1alpha1.AccessRequest {
	ar := activeRequestAt(name, finished.Add(-time.Minute), finished.Add(time.Hour))
	ar.Status.Phase = phase
	ar.Status.Message = strings.ToLower(string(phase))
	condType := map[v1alpha1.AccessRequestPhase]string{
		v1alpha1.AccessRequestExpired:   v1alpha1.ConditionExpired,
		v1alpha1.AccessRequestRevoked:   v1alpha1.ConditionRevoked,
		v1alpha1.AccessRequestWithdrawn: v1alpha1.ConditionWithdrawn,
	}[phase]
	if condType == "" {
		panic(fmt.Sprintf("no finished request in phase %s", phase))
	}
	setCondition(ar, condType, metav1.ConditionTrue, string(phase), ar.Status.Message, finished)
	if grantRemoved {
		setCondition(ar, v1alpha1.ConditionProvisioned, metav1.ConditionFalse, reasonGrantRemoved, "grant removed", finished)
	}
	return ar
}

// deniedRequest never had a grant; it was denied at denied.
func deniedRequest(name string, denied time.Time) *v1alpha1.AccessRequest {
	ar := pendingRequest(name)
	if created := denied.Add(-time.Minute); created.Before(ar.CreationTimestamp.Time) {
		ar.CreationTimestamp = metav1.NewTime(created)
	}
	ar.Status.Phase = v1alpha1.AccessRequestDenied
	ar.Status.Decision = &v1alpha1.Decision{User: "bob", Time: metav1.NewTime(denied), Reason: "no"}
	setCondition(ar, v1alpha1.ConditionDenied, metav1.ConditionTrue, "Denied", "denied by bob", denied)
	return ar
}

// deleted marks ar deleted at start-1m by user.
func deleted(ar *v1alpha1.AccessRequest, user string) *v1alpha1.AccessRequest {
	ar = ar.DeepCopy()
	at := metav1.NewTime(start.Add(-time.Minute))
	ar.DeletionTimestamp = &at
	if !isFinished(ar) {
		ar.Status.Decision = &v1alpha1.Decision{User: user, Time: at, Reason: v1alpha1.DecisionReasonDeleted}
	}
	return ar
}

func cluster(name string) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: "1"}}
}

// provisioned is ar's Provisioned condition as "Status/Reason", or "none".
func provisioned(ar *v1alpha1.AccessRequest) string {
	c := meta.FindStatusCondition(ar.Status.Conditions, v1alpha1.ConditionProvisioned)
	if c == nil {
		return "none"
	}
	return string(c.Status) + "/" + c.Reason
}

var errAgentDown = errors.New("agent call failed: connection reset")
