package session_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/registry/janus/session/sessiontest"
	"github.com/infroware/janus/pkg/session"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// peersFunc answers peer calls with a function.
type peersFunc func(replica, method, call string, body io.Reader) (*http.Response, error)

func (f peersFunc) CallPeer(_ context.Context, replica, method, call string, body io.Reader) (*http.Response, error) {
	return f(replica, method, call, body)
}

// answer is a peer's answer.
func answer(code int, header http.Header, body string) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: code, Header: header, Body: io.NopCloser(strings.NewReader(body))}
}

// relayedByB is the storage of replica janus-a, with one session open on
// janus-b, which peers answers for; its records are janus-b's.
func relayedByB(t *testing.T, peers sessionregistry.Peers) (*sessionregistry.Storage, *sessionregistry.Records, context.Context) {
	t.Helper()
	storage := sessiontest.NewStorage(t, sessionregistry.Options{
		Authorizer: authorizerfactory.NewAlwaysAllowAuthorizer(), Live: notLiveHere{}, Peers: peers, ReplicaName: "janus-a",
	})
	records := sessionregistry.NewRecords(storage, "janus-b", nil)
	ctx := genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone), &user.DefaultInfo{Name: "carol"})
	if _, err := records.Open(ctx, newSession("req-b1")); err != nil {
		t.Fatal(err)
	}
	return storage, records, ctx
}

// notLiveHere is a replica that relays no session.
type notLiveHere struct{}

func (notLiveHere) Follow(string) (*session.Follower, int, int, error) {
	return nil, 0, 0, session.ErrNotFollowable
}
func (notLiveHere) Terminate(string, string) error { return session.ErrSessionNotOpen }

func TestAttachThroughAnotherReplicaPassesItsEventsOnUnchanged(t *testing.T) {
	events := `[0.500000, "o", "hello\n"]` + "\n" + `[1.000000, "m", "janus: session terminated by carol: done"]` + "\n"
	var asked []string
	storage, _, ctx := relayedByB(t, peersFunc(func(replica, method, call string, body io.Reader) (*http.Response, error) {
		asked = append(asked, fmt.Sprintf("%s %s %s body=%v", replica, method, call, body != nil))
		h := http.Header{"X-Janus-Terminal-Size": {"132x43"}, "X-Janus-Session-Started": {"2026-12-03T06:00:00.5Z"}}
		return answer(http.StatusOK, h, events), nil
	}))
	obj, err := storage.Attach.Get(ctx, "req-b1", &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("attaching through janus-a: %v", err)
	}
	stream, _, contentType, err := obj.(rest.ResourceStreamer).InputStream(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	doc := bufio.NewReader(stream)
	first, _ := doc.ReadBytes('\n')
	rest, _ := io.ReadAll(doc)
	h, _, err := recording.Parse(first)
	if err != nil {
		t.Fatalf("the header %q: %v", first, err)
	}
	if h.Width != 132 || h.Height != 43 || h.Timestamp != time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC).Unix() || h.Janus.Session != "req-b1" || h.Janus.User != "alice" {
		t.Errorf("header %+v, want janus-b's terminal and start, the Session's metadata", h)
	}
	if string(rest) != events || contentType != sessionregistry.ContentType {
		t.Errorf("events %q (%s), want janus-b's unchanged %q", rest, contentType, events)
	}
	if want := "janus-b GET /sessions/req-b1/attach body=false"; len(asked) != 1 || asked[0] != want {
		t.Errorf("peer calls %q, want only %q", asked, want)
	}
}

func TestTerminateThroughAnotherReplicaAnswersTheClosedSession(t *testing.T) {
	var records *sessionregistry.Records
	var storage *sessionregistry.Storage
	var ctx context.Context
	storage, records, ctx = relayedByB(t, peersFunc(func(replica, method, call string, body io.Reader) (*http.Response, error) {
		notice, _ := io.ReadAll(body)
		if replica != "janus-b" || method != http.MethodPost || call != "/sessions/req-b1/terminate" {
			return answer(http.StatusNotFound, nil, ""), nil
		}
		// janus-b cuts the session and records why.
		if err := records.Close(ctx, "req-b1", sessionregistry.End{Ended: metav1.Now(), Reason: string(notice)}); err != nil {
			t.Error(err)
		}
		return answer(http.StatusNoContent, nil, ""), nil
	}))
	obj, err := storage.Terminate.Create(ctx, "req-b1", &janus.SessionTermination{Reason: "INC-9: done"}, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("terminating through janus-a: %v", err)
	}
	if s := obj.(*janus.Session); s.Status.Phase != janus.SessionClosed || s.Status.EndReason != "session terminated by carol: INC-9: done" {
		t.Errorf("terminate answered %+v, want the Session closed with carol's reason", s.Status)
	}
	if _, err := storage.Terminate.Create(ctx, "req-b1", &janus.SessionTermination{Reason: "again"}, nil, &metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("terminating it again: %v, want 409", err)
	}
}

func TestAttachAndTerminateSayWhenTheRelayingReplicaCannotBeReached(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func() (*http.Response, error)
		// closes has janus-b close the session before it answers, as its
		// restart recovery does.
		closes bool
		want   func(error) bool
		says   string
	}{
		{"not a peer", func() (*http.Response, error) { return nil, fmt.Errorf("calling: %w", tunnelserver.ErrNotAPeer) }, false, apierrors.IsServiceUnavailable, `replica "janus-b", which this replica cannot reach (it is not among this replica's peers`},
		{"killed", func() (*http.Response, error) {
			return nil, errors.New("dial tcp 127.0.0.9:8132: connect: connection refused")
		}, false, apierrors.IsServiceUnavailable, "connection refused"},
		{"restarted", func() (*http.Response, error) { return answer(http.StatusNotFound, nil, "not live"), nil }, false, apierrors.IsServiceUnavailable, "not live there"},
		{"refusing this replica", func() (*http.Response, error) { return answer(http.StatusUnauthorized, nil, "peer refused"), nil }, false, apierrors.IsServiceUnavailable, "answered 401: peer refused"},
		{"closed by its restart", func() (*http.Response, error) { return answer(http.StatusNotFound, nil, "not live"), nil }, true, apierrors.IsConflict, "the session ended (" + sessionregistry.RestartReason},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var records *sessionregistry.Records
			var ctx context.Context
			storage, records, ctx := relayedByB(t, peersFunc(func(string, string, string, io.Reader) (*http.Response, error) {
				if tc.closes {
					if err := records.Close(ctx, "req-b1", sessionregistry.End{Ended: metav1.Now(), Reason: sessionregistry.RestartReason}); err != nil {
						t.Error(err)
					}
				}
				return tc.answer()
			}))
			_, err := storage.Attach.Get(ctx, "req-b1", &metav1.GetOptions{})
			if !tc.want(err) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("attaching: %v, want it to say %q", err, tc.says)
			}
			_, err = storage.Terminate.Create(ctx, "req-b1", &janus.SessionTermination{Reason: "INC-9"}, nil, &metav1.CreateOptions{})
			if !tc.want(err) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("terminating: %v, want it to say %q", err, tc.says)
			}
		})
	}
}

// TestAttachToASessionThisReplicaNoLongerHolds: a Session still Open on
// this replica's name, which it does not relay any more (it just ended,
// or recovery is closing it), is a 503 naming this replica, never a peer
// call to itself.
func TestAttachToASessionThisReplicaNoLongerHolds(t *testing.T) {
	calls := 0
	storage := sessiontest.NewStorage(t, sessionregistry.Options{
		Authorizer: authorizerfactory.NewAlwaysAllowAuthorizer(), Live: notLiveHere{}, ReplicaName: "janus-b",
		Peers: peersFunc(func(string, string, string, io.Reader) (*http.Response, error) {
			calls++
			return answer(http.StatusOK, nil, ""), nil
		}),
	})
	ctx := genericapirequest.WithUser(genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone), &user.DefaultInfo{Name: "carol"})
	if _, err := sessionregistry.NewRecords(storage, "janus-b", nil).Open(ctx, newSession("req-b1")); err != nil {
		t.Fatal(err)
	}
	_, err := storage.Attach.Get(ctx, "req-b1", &metav1.GetOptions{})
	if says := `no longer live on janus-apiserver replica "janus-b"`; !apierrors.IsServiceUnavailable(err) || !strings.Contains(err.Error(), says) {
		t.Errorf("attaching: %v, want 503 saying %q", err, says)
	}
	if calls != 0 {
		t.Errorf("%d peer calls, want none", calls)
	}
}
