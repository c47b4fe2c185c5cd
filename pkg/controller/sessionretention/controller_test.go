package sessionretention_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/controller/sessionretention"
	"github.com/infroware/janus/pkg/recording"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/registry/janus/session/sessiontest"
)

const retention = 24 * time.Hour

// bed is a real Session store, a directory of recordings and a clock.
type bed struct {
	t          *testing.T
	storage    *sessionregistry.Storage
	recordings *orderedRecordings
	clock      *testingclock.FakeClock
}

func newBed(t *testing.T) *bed {
	storage := sessiontest.NewStorage(t)
	dir, err := recording.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &bed{
		t: t, storage: storage,
		recordings: &orderedRecordings{DirStore: dir, sessions: storage.Store, failures: map[string]int{}},
		clock:      testingclock.NewFakeClock(time.Now().Truncate(time.Second)),
	}
}

// orderedRecordings is the recording store, checking that each Session
// is still there when its recording goes, and failing the deletes it is
// told to.
type orderedRecordings struct {
	*recording.DirStore
	sessions rest.Getter

	mu       sync.Mutex
	failures map[string]int
	deleted  []string
	orphaned []string
}

func (r *orderedRecordings) Delete(ctx context.Context, id string) error {
	r.mu.Lock()
	if r.failures[id] > 0 {
		r.failures[id]--
		r.mu.Unlock()
		return errors.New("store unreachable")
	}
	r.mu.Unlock()
	if _, err := r.sessions.Get(ctx, id, &metav1.GetOptions{}); apierrors.IsNotFound(err) {
		r.mu.Lock()
		r.orphaned = append(r.orphaned, id)
		r.mu.Unlock()
	}
	if err := r.DirStore.Delete(ctx, id); err != nil {
		return err
	}
	r.mu.Lock()
	r.deleted = append(r.deleted, id)
	r.mu.Unlock()
	return nil
}

func (r *orderedRecordings) failNext(id string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[id] = n
}

// session stores a Session that started an hour before it ended, ended
// ago before the clock's now (Open when ago is negative), and its
// recording's header.
func (b *bed) session(name string, ago time.Duration) {
	b.t.Helper()
	now := b.clock.Now()
	started := metav1.NewTime(now.Add(-ago - time.Hour))
	s := &janus.Session{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: janus.SessionSpec{Request: "req", Cluster: "dev", Namespace: "payments", Pod: "payments-api-0",
			Command: []string{"sh"}, User: janus.SessionUser{Username: "alice"}},
		Status: janus.SessionStatus{Phase: janus.SessionOpen, StartedAt: &started, Server: "janus-0"},
	}
	if ago >= 0 {
		ended := metav1.NewTime(now.Add(-ago))
		s.Status.Phase, s.Status.EndedAt, s.Status.EndReason = janus.SessionClosed, &ended, "command ended"
	}
	ctx := genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone)
	if _, err := b.storage.Store.Create(ctx, s, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		b.t.Fatalf("storing session %s: %v", name, err)
	}
	if err := b.recordings.Put(context.Background(), name+"/00000000.cast", []byte(`{"version": 2}`+"\n")); err != nil {
		b.t.Fatal(err)
	}
}

// remaining lists the Sessions and the recordings still stored.
func (b *bed) remaining() (sessions, recordings []string) {
	b.t.Helper()
	obj, err := b.storage.Store.List(context.Background(), nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for _, s := range obj.(*janus.SessionList).Items {
		sessions = append(sessions, s.Name)
		keys, err := b.recordings.List(context.Background(), s.Name+"/")
		if err != nil {
			b.t.Fatal(err)
		}
		if len(keys) > 0 {
			recordings = append(recordings, s.Name)
		}
	}
	slices.Sort(sessions)
	return sessions, recordings
}

func (b *bed) controller() *sessionretention.Controller {
	return sessionretention.New(b.storage.Store, b.recordings, sessionretention.Options{Retention: retention, Clock: b.clock})
}

func TestSweepDeletesOnlySessionsClosedLongerThanTheRetention(t *testing.T) {
	b := newBed(t)
	b.session("req-expired", retention+time.Minute)
	b.session("req-long-expired", 10*retention)
	b.session("req-recent", retention-time.Minute)
	b.session("req-just-ended", 0)
	// Open for far longer than the retention: still live, or left for
	// the restart to close.
	b.session("req-open", -1)

	deleted, err := b.controller().Sweep(context.Background())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	sessions, recordings := b.remaining()
	want := []string{"req-just-ended", "req-open", "req-recent"}
	if deleted != 2 || !slices.Equal(sessions, want) || !slices.Equal(recordings, want) {
		t.Errorf("deleted %d; sessions left %v, recordings left %v; want 2 deleted and %v left", deleted, sessions, recordings, want)
	}
	if len(b.recordings.orphaned) != 0 {
		t.Errorf("recordings %v were deleted after their Session: they must go first", b.recordings.orphaned)
	}
	if got := slices.Sorted(slices.Values(b.recordings.deleted)); !slices.Equal(got, []string{"req-expired", "req-long-expired"}) {
		t.Errorf("recordings deleted: %v", got)
	}
}

func TestSweepKeepsASessionWhoseRecordingCouldNotBeDeletedAndRetriesIt(t *testing.T) {
	b := newBed(t)
	b.session("req-stuck", retention+time.Minute)
	b.session("req-expired", retention+time.Minute)
	b.recordings.failNext("req-stuck", 1)
	c := b.controller()

	deleted, err := c.Sweep(context.Background())
	if err == nil || deleted != 1 {
		t.Fatalf("first sweep: deleted %d, err %v; want 1 and an error", deleted, err)
	}
	if sessions, recordings := b.remaining(); !slices.Equal(sessions, []string{"req-stuck"}) || !slices.Equal(recordings, []string{"req-stuck"}) {
		t.Errorf("after a failed recording delete: sessions %v, recordings %v; want req-stuck kept whole", sessions, recordings)
	}
	deleted, err = c.Sweep(context.Background())
	if err != nil || deleted != 1 {
		t.Fatalf("second sweep: deleted %d, err %v; want 1", deleted, err)
	}
	if sessions, _ := b.remaining(); len(sessions) != 0 {
		t.Errorf("after the retry: sessions %v, want none", sessions)
	}
}

func TestSweepPagesThroughManySessions(t *testing.T) {
	b := newBed(t)
	const n = 1100 // more than two pages
	for i := range n {
		b.session(fmt.Sprintf("req-%04d", i), retention+time.Duration(i%2)*time.Hour-30*time.Minute)
	}
	lists := &countedLists{Sessions: b.storage.Store}
	c := sessionretention.New(lists, b.recordings, sessionretention.Options{Retention: retention, Clock: b.clock})
	deleted, err := c.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sessions, _ := b.remaining(); deleted != n/2 || len(sessions) != n/2 {
		t.Errorf("deleted %d, %d left; want %d of each", deleted, len(sessions), n/2)
	}
	if lists.n < 3 {
		t.Errorf("%d sessions listed in %d pages, want pages of at most 500", n, lists.n)
	}
}

// countedLists counts the lists of Sessions.
type countedLists struct {
	sessionretention.Sessions
	n int
}

func (c *countedLists) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	c.n++
	return c.Sessions.List(ctx, opts)
}

func TestRunSweepsAtStartAndEveryInterval(t *testing.T) {
	b := newBed(t)
	b.session("req-expired", retention+time.Minute)
	b.session("req-later", retention-5*time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.controller().Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })

	waitForSessions(t, b, []string{"req-later"}, "the first sweep, at start")
	// Nine minutes on, req-later has expired but no sweep came yet.
	b.clock.Step(9 * time.Minute)
	if sessions, _ := b.remaining(); !slices.Equal(sessions, []string{"req-later"}) {
		t.Errorf("before the interval: sessions %v, want req-later still", sessions)
	}
	b.clock.Step(time.Minute)
	waitForSessions(t, b, nil, "the sweep after ten minutes")
}

func TestRunWithoutRetentionKeepsEverything(t *testing.T) {
	b := newBed(t)
	b.session("req-ancient", 1000*retention)
	c := sessionretention.New(b.storage.Store, b.recordings, sessionretention.Options{Clock: b.clock})
	c.Run(context.Background()) // returns at once
	if sessions, recordings := b.remaining(); len(sessions) != 1 || len(recordings) != 1 {
		t.Errorf("with retention 0: sessions %v, recordings %v; want both kept", sessions, recordings)
	}
}

func waitForSessions(t *testing.T, b *bed, want []string, what string) {
	t.Helper()
	var sessions []string
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		sessions, _ = b.remaining()
		return slices.Equal(sessions, want), nil
	})
	if err != nil {
		t.Fatalf("%s: sessions %v, want %v", what, sessions, want)
	}
}
