package session

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
)

// Records writes the Sessions of the exec sessions this replica relays.
type Records struct {
	storage *Storage
	// server names this replica in each Session's status.
	server string
	// recordings is where sessions are recorded; nil when they are not.
	recordings recording.Store
	// live are the sessions this process opened and has not closed,
	// which CloseLeftOpen must leave alone.
	live liveSessions
}

// NewRecords returns the writer of Sessions for the replica named server.
func NewRecords(storage *Storage, server string, recordings recording.Store) *Records {
	return &Records{storage: storage, server: server, recordings: recordings}
}

// Server names this replica.
func (r *Records) Server() string { return r.server }

// Open writes the record of a session that is about to start: its spec,
// phase Open, this replica and where its recording goes. No record, no
// session: an error must refuse it.
func (r *Records) Open(ctx context.Context, s *janus.Session) (*janus.Session, error) {
	s = s.DeepCopy()
	if len(s.Spec.Request) <= 63 {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		s.Labels[janus.RequestLabel] = s.Spec.Request
	}
	now := metav1.Now()
	s.Status = janus.SessionStatus{Phase: janus.SessionOpen, StartedAt: &now, Server: r.server}
	if r.recordings != nil {
		s.Status.Recording = &janus.SessionRecording{Format: recording.Format, Location: r.recordings.Location(s.Name)}
	}
	// Live before it is stored, so CloseLeftOpen never sees it Open and
	// not live.
	r.live.add(s.Name)
	obj, err := r.storage.Store.Create(ctx, s, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		r.live.remove(s.Name)
		return nil, fmt.Errorf("writing the record of session %s: %w", s.Name, err)
	}
	return obj.(*janus.Session), nil
}

// End is how a session ended.
type End struct {
	Ended             metav1.Time
	BytesIn, BytesOut int64
	Reason            string
	// Recording is the closed recording; nil when it was not recorded.
	Recording *recording.Summary
}

// Close marks the record of session name Closed with how it ended.
func (r *Records) Close(ctx context.Context, name string, end End) error {
	defer r.live.remove(name)
	_, _, err := r.storage.Store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		s := old.(*janus.Session).DeepCopy()
		if s.Status.Phase == janus.SessionClosed {
			return s, nil
		}
		closed(s, end)
		return s, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("recording the end of session %s: %w", name, err)
	}
	return nil
}

// closed sets the status of a session that ended.
func closed(s *janus.Session, end End) {
	s.Status.Phase = janus.SessionClosed
	ended := end.Ended
	if s.Status.StartedAt != nil && ended.Before(s.Status.StartedAt) {
		ended = *s.Status.StartedAt
	}
	s.Status.EndedAt = &ended
	s.Status.BytesIn, s.Status.BytesOut = end.BytesIn, end.BytesOut
	s.Status.EndReason = end.Reason
	if rec := end.Recording; rec != nil {
		s.Status.Recording = &janus.SessionRecording{Format: rec.Format, Size: rec.Size, SHA256: rec.SHA256, Location: rec.Location}
	}
}
