package session_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/registry/janus/session/sessiontest"
)

// flakyStore fails reading the chunks of the recordings it is told to,
// once each.
type flakyStore struct {
	recording.Store
	mu    sync.Mutex
	fails map[string]bool
}

func (s *flakyStore) Get(ctx context.Context, key string) ([]byte, error) {
	s.mu.Lock()
	id, _, _ := strings.Cut(key, "/")
	fail := s.fails[id]
	delete(s.fails, id)
	s.mu.Unlock()
	if fail {
		return nil, errors.New("store unreachable")
	}
	return s.Store.Get(ctx, key)
}

func newSession(name string) *janus.Session {
	return &janus.Session{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: janus.SessionSpec{Request: "req", Cluster: "dev", Namespace: "payments", Pod: "payments-api-0",
			Command: []string{"sh"}, User: janus.SessionUser{Username: "alice"}},
	}
}

// crashedRecording stores the header and one chunk of recording id, as a
// writer killed before Close leaves them, and returns the document.
func crashedRecording(t *testing.T, store recording.Store, id string, started time.Time) []byte {
	t.Helper()
	header := fmt.Sprintf(`{"version":2,"width":80,"height":24,"timestamp":%d,"janus":{"request":"req","user":"alice","cluster":"dev","namespace":"payments","pod":"payments-api-0","tty":false}}`+"\n", started.Unix())
	chunk := `[0.500000, "o", "hello\n"]` + "\n" + `[1.000000, "r", "80x24"]` + "\n" + `[2.250000, "o", "world\n"]` + "\n"
	for i, data := range []string{header, chunk} {
		if err := store.Put(context.Background(), fmt.Sprintf("%s/%08d.cast", id, i), []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	return []byte(header + chunk)
}

func get(t *testing.T, storage *sessionregistry.Storage, name string) *janus.Session {
	t.Helper()
	obj, err := storage.Store.Get(context.Background(), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*janus.Session)
}

func TestCloseLeftOpenClosesOnlyTheSessionsADeadRunOfThisReplicaLeft(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone)
	storage := sessiontest.NewStorage(t)
	dir, err := recording.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &flakyStore{Store: dir, fails: map[string]bool{}}

	// The run that was killed opened three sessions and closed one.
	killed := sessionregistry.NewRecords(storage, "janus-0", store)
	var started time.Time
	for _, name := range []string{"req-cut", "req-unreadable", "req-unrecorded", "req-ended"} {
		s, err := killed.Open(ctx, newSession(name))
		if err != nil {
			t.Fatal(err)
		}
		started = s.Status.StartedAt.Time
	}
	doc := crashedRecording(t, store, "req-cut", started)
	crashedRecording(t, store, "req-unreadable", started)
	if err := killed.Close(ctx, "req-ended", sessionregistry.End{Ended: metav1.Now(), Reason: "command ended"}); err != nil {
		t.Fatal(err)
	}
	// Another replica's session is live there.
	if _, err := sessionregistry.NewRecords(storage, "janus-1", store).Open(ctx, newSession("req-elsewhere")); err != nil {
		t.Fatal(err)
	}

	// The replica starts again, and a session opens before it looks.
	restarted := sessionregistry.NewRecords(storage, "janus-0", store)
	if _, err := restarted.Open(ctx, newSession("req-new")); err != nil {
		t.Fatal(err)
	}
	store.fails["req-unreadable"] = true
	var told []string
	ended := func(_ context.Context, s *janus.Session) {
		if s.Status.Phase != janus.SessionClosed || s.Status.EndReason != sessionregistry.RestartReason {
			t.Errorf("told of %s with status %+v, want it closed", s.Name, s.Status)
		}
		told = append(told, s.Name)
	}
	n, err := restarted.CloseLeftOpen(ctx, ended)
	if n != 2 || err == nil || !strings.Contains(err.Error(), "req-unreadable") {
		t.Errorf("CloseLeftOpen closed %d (%v), want 2 and an error about req-unreadable", n, err)
	}
	slices.Sort(told)
	if !slices.Equal(told, []string{"req-cut", "req-unrecorded"}) {
		t.Errorf("told of %v, want req-cut and req-unrecorded", told)
	}

	cut := get(t, storage, "req-cut").Status
	sum := sha256.Sum256(doc)
	if cut.Phase != janus.SessionClosed || cut.EndReason != sessionregistry.RestartReason {
		t.Errorf("req-cut: phase %s, endReason %q", cut.Phase, cut.EndReason)
	}
	if rec := cut.Recording; rec == nil || rec.SHA256 != hex.EncodeToString(sum[:]) || rec.Size != int64(len(doc)) || rec.Format != recording.Format {
		t.Errorf("req-cut: recording %+v, want %d bytes hashing to %x", rec, len(doc), sum)
	}
	// The last event came 2.25 s after the header's timestamp; the API
	// keeps whole seconds.
	if want := time.Unix(started.Unix()+2, 0); !cut.EndedAt.Time.Equal(want) {
		t.Errorf("req-cut: endedAt %s, want %s (the last event)", cut.EndedAt.UTC(), want.UTC())
	}
	if cut.BytesOut != int64(len("hello\nworld\n")) || cut.BytesIn != 0 {
		t.Errorf("req-cut: bytesIn %d, bytesOut %d; want 0 and 12", cut.BytesIn, cut.BytesOut)
	}
	if sealed, err := recording.Closed(ctx, store, "req-cut"); err != nil || !sealed {
		t.Errorf("req-cut's recording sealed: %v, %v", sealed, err)
	}
	if _, err := recording.Verify(ctx, store, "req-cut", cut.Recording.SHA256); err != nil {
		t.Errorf("req-cut's recording: %v", err)
	}

	unrecorded := get(t, storage, "req-unrecorded").Status
	if unrecorded.Phase != janus.SessionClosed || unrecorded.EndedAt == nil || unrecorded.Recording.SHA256 != "" {
		t.Errorf("req-unrecorded: %+v, want closed without a digest", unrecorded)
	}
	for name, want := range map[string]janus.SessionPhase{"req-unreadable": janus.SessionOpen, "req-elsewhere": janus.SessionOpen, "req-new": janus.SessionOpen} {
		if got := get(t, storage, name).Status; got.Phase != want {
			t.Errorf("%s: phase %s, want %s", name, got.Phase, want)
		}
	}
	if got := get(t, storage, "req-ended").Status.EndReason; got != "command ended" {
		t.Errorf("req-ended: endReason %q, the one it closed with", got)
	}

	// Again, with the store back: only the one that failed is closed.
	told = nil
	if n, err := restarted.CloseLeftOpen(ctx, ended); n != 1 || err != nil || !slices.Equal(told, []string{"req-unreadable"}) {
		t.Errorf("the retry closed %d (%v), told of %v; want req-unreadable only", n, err, told)
	}
	if got := get(t, storage, "req-unreadable").Status; got.Phase != janus.SessionClosed || got.Recording.SHA256 == "" {
		t.Errorf("req-unreadable after the retry: %+v", got)
	}
	if got := get(t, storage, "req-new").Status.Phase; got != janus.SessionOpen {
		t.Errorf("req-new, opened by the running replica: %s, want Open", got)
	}
}

func TestCloseOfReplicaClosesOnlyTheLostReplicasSessions(t *testing.T) {
	ctx := genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone)
	storage := sessiontest.NewStorage(t)
	store, err := recording.NewDirStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lost := sessionregistry.NewRecords(storage, "janus-b", store)
	s, err := lost.Open(ctx, newSession("req-on-b"))
	if err != nil {
		t.Fatal(err)
	}
	doc := crashedRecording(t, store, "req-on-b", s.Status.StartedAt.Time)
	leader := sessionregistry.NewRecords(storage, "janus-a", store)
	if _, err := leader.Open(ctx, newSession("req-on-a")); err != nil {
		t.Fatal(err)
	}
	if _, err := sessionregistry.NewRecords(storage, "janus-c", store).Open(ctx, newSession("req-on-c")); err != nil {
		t.Fatal(err)
	}

	servers, err := leader.OpenServers(ctx)
	slices.Sort(servers)
	if err != nil || !slices.Equal(servers, []string{"janus-a", "janus-b", "janus-c"}) {
		t.Fatalf("OpenServers: %v, %v; want janus-a, janus-b and janus-c", servers, err)
	}
	if _, err := leader.CloseOfReplica(ctx, "janus-a", "gone", nil); err == nil {
		t.Error("a replica counted itself gone")
	}
	const reason = "janus-apiserver replica janus-b stopped renewing its heartbeat Lease"
	var told []string
	n, err := leader.CloseOfReplica(ctx, "janus-b", reason, func(_ context.Context, s *janus.Session) { told = append(told, s.Name) })
	if n != 1 || err != nil || !slices.Equal(told, []string{"req-on-b"}) {
		t.Fatalf("CloseOfReplica closed %d (%v), told of %v; want req-on-b", n, err, told)
	}
	got := get(t, storage, "req-on-b").Status
	sum := sha256.Sum256(doc)
	if got.Phase != janus.SessionClosed || got.EndReason != reason || got.Server != "janus-b" {
		t.Errorf("req-on-b: phase %s, endReason %q, server %q", got.Phase, got.EndReason, got.Server)
	}
	if rec := got.Recording; rec == nil || rec.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("req-on-b: recording %+v, want it sealed with digest %x", rec, sum)
	}
	for _, name := range []string{"req-on-a", "req-on-c"} {
		if phase := get(t, storage, name).Status.Phase; phase != janus.SessionOpen {
			t.Errorf("%s: %s, want Open (its replica is not the lost one)", name, phase)
		}
	}
}
