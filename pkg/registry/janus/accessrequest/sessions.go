package accessrequest

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/retry"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/session"
)

// statusUpdater writes a request's status: the status store.
type statusUpdater interface {
	Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error)
}

// maxEventCommand bounds the command quoted in an Event; the whole command
// is in the Session.
const maxEventCommand = 256

// SessionRecords writes the Session objects of exec sessions
// (sessionregistry.Records).
type SessionRecords interface {
	Open(ctx context.Context, s *janus.Session) (*janus.Session, error)
	Close(ctx context.Context, name string, end sessionregistry.End) error
}

// sessionObserver is the registry's side of one exec session: it writes
// the session's Session, counts it on the request, tells its story in the
// request's Events, and tells the engine when and why the request's
// access ends.
type sessionObserver struct {
	// ctx is the Connect call's, without its cancellation: it carries the
	// request information storage needs, which the stream's own HTTP
	// request does not, and it must outlive the Connect call.
	ctx      context.Context
	requests rest.Getter
	status   statusUpdater
	records  SessionRecords
	recorder record.EventRecorder
	// ref is the request the session's Events are about.
	ref     runtime.Object
	request string
	session *janus.Session
	now     func() time.Time
}

var _ session.Observer = &sessionObserver{}

func newSessionID() string { return rand.String(10) }

// sessionName is the Session's (and its recording's) name:
// <request>-<id>, session.RecordingID.
func sessionName(request, id string) string { return request + "-" + id }

func (o *sessionObserver) update(mutate func(*janus.AccessRequest)) error {
	_, _, err := o.status.Update(o.ctx, o.request, rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		ar := old.(*janus.AccessRequest).DeepCopy()
		mutate(ar)
		return ar, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	return err
}

// Started writes the Session before the first byte flows; without it the
// session is refused. The request's counts follow, best effort: they are
// for its columns, the Sessions are the record.
func (o *sessionObserver) Started(context.Context) error {
	written, err := o.records.Open(o.ctx, o.session)
	if err != nil {
		return fmt.Errorf("recording session %s of request %s: %w", o.session.Name, o.request, err)
	}
	o.session = written
	if err := o.update(func(ar *janus.AccessRequest) {
		ar.Status.ActiveSessions++
		ar.Status.TotalSessions++
	}); err != nil {
		klog.ErrorS(err, "Counting a session on its request", "request", o.request, "session", o.session.Name)
	}
	o.recorder.Event(o.ref, corev1.EventTypeNormal, "SessionStarted", o.describe()+": "+truncate(strings.Join(o.session.Spec.Command, " "), maxEventCommand))
	klog.InfoS("Session started", "request", o.request, "session", o.session.Name, "user", o.session.Spec.User.Username, "namespace", o.session.Spec.Namespace, "pod", o.session.Spec.Pod)
	return nil
}

// endWriteBackoff spaces the retries of the writes of a session's end,
// about 40 s in all: a datastore restart fails writes for a second or
// two, and without them the Session would say Open, and the request
// count it active, until this replica restarts (the soak's PostgreSQL
// restart left one so). Should a failed decrement have been stored after
// all, the retry counts the end twice; activeSessions never drops below
// zero, and the Sessions are the record.
var endWriteBackoff = wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 10, Cap: 10 * time.Second}

// retriableEndWrite: a write of a session's end that storage failed may
// succeed again; one of a Session or request that is gone, or refused as
// invalid, never will.
func retriableEndWrite(err error) bool {
	return !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err)
}

func (o *sessionObserver) Ended(_ context.Context, s session.Summary) {
	end := sessionregistry.End{Ended: metav1.NewTime(s.Ended), BytesIn: s.BytesIn, BytesOut: s.BytesOut, Reason: s.Reason, Recording: s.Recording}
	if err := retry.OnError(endWriteBackoff, retriableEndWrite, func() error {
		return o.records.Close(o.ctx, o.session.Name, end)
	}); err != nil {
		klog.ErrorS(err, "Recording the end of a session", "request", o.request, "session", o.session.Name)
	}
	err := retry.OnError(endWriteBackoff, retriableEndWrite, func() error {
		return o.update(func(ar *janus.AccessRequest) {
			if ar.Status.ActiveSessions > 0 {
				ar.Status.ActiveSessions--
			}
		})
	})
	switch {
	case apierrors.IsNotFound(err):
		// Deleting the request cut the session, and the request went
		// before its end was counted; its Session keeps the record.
		klog.V(2).InfoS("Request gone before the end of its session was counted", "request", o.request, "session", o.session.Name)
	case err != nil:
		klog.ErrorS(err, "Counting the end of a session on its request", "request", o.request, "session", o.session.Name)
	}
	took := s.Ended.Sub(s.Started)
	o.recorder.Eventf(o.ref, corev1.EventTypeNormal, "SessionEnded", "%s ended after %s, %s in, %s out: %s",
		o.describe(), humanDuration(took), formatBytes(s.BytesIn), formatBytes(s.BytesOut), s.Reason)
	klog.InfoS("Session ended", "request", o.request, "session", o.session.Name, "reason", s.Reason, "cut", s.Cut, "bytesIn", s.BytesIn, "bytesOut", s.BytesOut, "duration", took)
}

func (o *sessionObserver) AccessEnds(context.Context) (time.Time, string) {
	obj, err := o.requests.Get(o.ctx, o.request, &metav1.GetOptions{})
	if err != nil {
		// A request that is gone gave no access.
		return o.now(), "access ended: the request is gone"
	}
	ar := obj.(*janus.AccessRequest)
	var ends time.Time
	if ar.Status.ExpiresAt != nil {
		ends = ar.Status.ExpiresAt.Time
	}
	return ends, accessEnded(ar, o.now())
}

// describe names the session as people read it:
// "alice exec payments/payments-api-0 -c main".
func (o *sessionObserver) describe() string {
	spec := &o.session.Spec
	s := fmt.Sprintf("%s exec %s/%s", spec.User.Username, spec.Namespace, spec.Pod)
	if spec.Container != "" {
		s += " -c " + spec.Container
	}
	return s
}

// accessEnded says why the access of ar is over, or "" while it lasts. At
// expiry the grant (and its sessions) go before the phase changes, so an
// Active request past expiresAt has expired too.
func accessEnded(ar *janus.AccessRequest, now time.Time) string {
	phase := strings.ToLower(string(ar.Status.Phase))
	d := ar.Status.Decision
	// A deleted request is revoked first (the grant finalizer): while it
	// is Active the grant goes before the phase changes, as at expiry, and
	// a session may be told after the revocation was written; either way
	// it was the deletion.
	revokedByDeletion := ar.Status.Phase == janus.AccessRequestRevoked && d != nil && d.Reason == janus.DecisionReasonDeleted
	if ar.DeletionTimestamp != nil && (ar.Status.Phase == janus.AccessRequestActive || revokedByDeletion) {
		if d != nil && d.User != "" {
			return "access ended: the request was deleted by " + d.User
		}
		return "access ended: the request was deleted"
	}
	switch ar.Status.Phase {
	case janus.AccessRequestActive:
		if ar.Status.ExpiresAt == nil || now.Before(ar.Status.ExpiresAt.Time) {
			return ""
		}
		fallthrough
	case janus.AccessRequestExpired:
		return fmt.Sprintf("access expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))
	case janus.AccessRequestRevoked, janus.AccessRequestWithdrawn:
		switch {
		case d == nil:
			return "access " + phase
		case d.Reason != "":
			return fmt.Sprintf("access %s by %s: %s", phase, d.User, d.Reason)
		}
		return fmt.Sprintf("access %s by %s", phase, d.User)
	}
	return "access ended: the request is " + string(ar.Status.Phase)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// formatBytes writes n in SI units: "512 B", "3.2 kB", "48.0 MB".
func formatBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1000, "kB"
	for _, next := range []string{"MB", "GB", "TB"} {
		if v < 1000 {
			break
		}
		v, unit = v/1000, next
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// humanDuration writes d the way people say it: "15m", "1h30m", "45s".
func humanDuration(d time.Duration) string {
	return session.HumanDuration(d)
}
