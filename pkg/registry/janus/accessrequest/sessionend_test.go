package accessrequest

import (
	"context"
	"errors"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"

	"github.com/infroware/janus/pkg/apis/janus"
	sessionregistry "github.com/infroware/janus/pkg/registry/janus/session"
	"github.com/infroware/janus/pkg/session"
)

// failingRecords fails the first closes with errs, in order.
type failingRecords struct {
	errs   []error
	closes int
	end    sessionregistry.End
}

func (f *failingRecords) Open(_ context.Context, s *janus.Session) (*janus.Session, error) {
	return s, nil
}

func (f *failingRecords) Close(_ context.Context, _ string, end sessionregistry.End) error {
	f.closes++
	if f.closes <= len(f.errs) {
		return f.errs[f.closes-1]
	}
	f.end = end
	return nil
}

// failingStatus fails the first updates with errs, then applies them to
// its request.
type failingStatus struct {
	errs    []error
	updates int
	ar      *janus.AccessRequest
}

func (f *failingStatus) Update(ctx context.Context, _ string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, _ rest.ValidateObjectUpdateFunc, _ bool, _ *metav1.UpdateOptions) (runtime.Object, bool, error) {
	f.updates++
	if f.updates <= len(f.errs) {
		return nil, false, f.errs[f.updates-1]
	}
	obj, err := objInfo.UpdatedObject(ctx, f.ar)
	if err != nil {
		return nil, false, err
	}
	f.ar = obj.(*janus.AccessRequest)
	return f.ar, false, nil
}

// TestSessionEndIsWrittenThroughADatastoreRestart: the Session's close and
// the request's count fail while the datastore restarts; both are retried
// until written. A Session that is gone is not retried.
func TestSessionEndIsWrittenThroughADatastoreRestart(t *testing.T) {
	restarting := errors.New("FATAL: the database system is shutting down (SQLSTATE 57P03)")
	records := &failingRecords{errs: []error{restarting, restarting}}
	status := &failingStatus{errs: []error{restarting}, ar: &janus.AccessRequest{Status: janus.AccessRequestStatus{ActiveSessions: 1}}}
	o := &sessionObserver{
		ctx: context.Background(), status: status, records: records, recorder: record.NewFakeRecorder(10),
		ref: &janus.AccessRequest{}, request: "r", session: &janus.Session{ObjectMeta: metav1.ObjectMeta{Name: "r-abc"}},
	}
	began := time.Now()
	o.Ended(context.Background(), session.Summary{Started: began, Ended: began.Add(time.Second), Reason: "command ended"})
	if records.closes != 3 || records.end.Reason != "command ended" {
		t.Errorf("closed %d times, last with reason %q; want 3 (two failed), with the session's reason", records.closes, records.end.Reason)
	}
	if status.updates != 2 || status.ar.Status.ActiveSessions != 0 {
		t.Errorf("counted the end in %d updates, activeSessions %d; want 2 (one failed) and 0", status.updates, status.ar.Status.ActiveSessions)
	}

	gone := &failingRecords{errs: []error{apierrors.NewNotFound(janus.Resource("sessions"), "r-abc")}}
	o.records, o.status = gone, &failingStatus{ar: &janus.AccessRequest{}}
	o.Ended(context.Background(), session.Summary{Started: began, Ended: began, Reason: "command ended"})
	if gone.closes != 1 {
		t.Errorf("a Session that is gone was closed %d times, want 1", gone.closes)
	}
}
