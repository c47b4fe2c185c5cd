package sessionretention

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// DefaultInterval is how often the expired Sessions are looked for.
const DefaultInterval = 10 * time.Minute

// pageSize bounds each list of Closed Sessions: ninety days of them may
// be many.
const pageSize = 500

// Sessions is Janus's own store of Sessions (the session registry's
// Storage.Store).
type Sessions interface {
	rest.Lister
	rest.GracefulDeleter
}

// Recordings deletes recordings (a recording.Store).
type Recordings interface {
	// Delete removes recording id; one that is not there is no error.
	Delete(ctx context.Context, id string) error
}

// Options configure the controller.
type Options struct {
	// Retention is how long after it ended a Session is kept; 0 keeps
	// every Session.
	Retention time.Duration
	// Interval is the time between sweeps; DefaultInterval when 0.
	Interval time.Duration
	// Clock is the real clock unless a test sets it.
	Clock clock.WithTicker
}

// Controller deletes expired Sessions.
//
// Every replica runs one. The deletes are idempotent (a recording that is
// gone is no error, nor is a Session another replica deleted first), so
// replicas sweeping the same Sessions are safe; what that costs is one
// paged list of Closed Sessions per replica every Interval and, rarely,
// a delete done twice. In exchange retention needs no Lease: it goes on
// when leader election is off or the leader is stuck, and it stays out of
// the lifecycle controller, whose transitions and timers do need a single
// writer.
type Controller struct {
	sessions   Sessions
	recordings Recordings
	opts       Options
}

// New returns the controller over sessions and, if not nil, the store of
// their recordings.
func New(sessions Sessions, recordings Recordings, opts Options) *Controller {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	return &Controller{sessions: sessions, recordings: recordings, opts: opts}
}

// Run sweeps at once and then every Interval until ctx is done. A Session
// that could not be deleted is tried again on the next sweep.
func (c *Controller) Run(ctx context.Context) {
	if c.opts.Retention <= 0 {
		klog.InfoS("Session retention is off: Sessions and their recordings are kept")
		return
	}
	klog.InfoS("Starting session retention", "retention", c.opts.Retention, "interval", c.opts.Interval)
	ticker := c.opts.Clock.NewTicker(c.opts.Interval)
	defer ticker.Stop()
	for {
		c.sweepAndLog(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C():
		}
	}
}

func (c *Controller) sweepAndLog(ctx context.Context) {
	deleted, err := c.Sweep(ctx)
	if err != nil {
		klog.ErrorS(err, "Deleting expired sessions; the rest are tried again next sweep", "deleted", deleted, "next", c.opts.Interval)
		return
	}
	if deleted > 0 {
		klog.InfoS("Deleted expired sessions", "deleted", deleted, "retention", c.opts.Retention)
	}
}

// Sweep deletes, once, every Session closed for longer than the
// retention, with its recording, and returns how many it deleted.
func (c *Controller) Sweep(ctx context.Context) (int, error) {
	// The registry wants a request's namespace, even for cluster-scoped
	// objects; no request brought one here.
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
	cutoff := c.opts.Clock.Now().Add(-c.opts.Retention)
	opts := &metainternalversion.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldPhase, string(janus.SessionClosed)),
		Limit:         pageSize,
	}
	var errs []error
	deleted := 0
	for {
		obj, err := c.sessions.List(ctx, opts)
		if err != nil {
			return deleted, utilerrors.NewAggregate(append(errs, fmt.Errorf("listing closed sessions: %w", err)))
		}
		list := obj.(*janus.SessionList)
		for i := range list.Items {
			s := &list.Items[i]
			if !expired(s, cutoff) {
				continue
			}
			if err := c.delete(ctx, s); err != nil {
				errs = append(errs, err)
				continue
			}
			deleted++
		}
		if list.Continue == "" || ctx.Err() != nil {
			return deleted, utilerrors.NewAggregate(errs)
		}
		opts.Continue = list.Continue
	}
}

// expired reports whether s ended before cutoff.
func expired(s *janus.Session, cutoff time.Time) bool {
	return s.Status.Phase == janus.SessionClosed && s.Status.EndedAt != nil && s.Status.EndedAt.Time.Before(cutoff)
}

// delete removes the recording of s, then s: a Session that outlives its
// recording for a sweep says where the recording was; a recording that
// outlived its Session would be found by no one.
func (c *Controller) delete(ctx context.Context, s *janus.Session) error {
	if c.recordings != nil {
		if err := c.recordings.Delete(ctx, s.Name); err != nil {
			return fmt.Errorf("deleting the recording of session %s: %w", s.Name, err)
		}
	}
	uid := s.UID
	_, _, err := c.sessions.Delete(ctx, s.Name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting session %s: %w", s.Name, err)
	}
	klog.V(2).InfoS("Deleted an expired session", "session", s.Name, "request", s.Spec.Request, "ended", s.Status.EndedAt.UTC())
	return nil
}

// Janus's own store of Sessions is one.
var _ Sessions = &genericregistry.Store{}
