package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/recording"
)

// RestartReason is the endReason of a session its replica was killed
// under (kill -9, OOM, node loss) and closed when it started again.
const RestartReason = "janus-apiserver restarted while the session ran; the session was cut"

// liveSessions are the names of the sessions this process relays.
type liveSessions struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func (l *liveSessions) add(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.names == nil {
		l.names = map[string]struct{}{}
	}
	l.names[name] = struct{}{}
}

func (l *liveSessions) remove(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.names, name)
}

func (l *liveSessions) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.names[name]
	return ok
}

// CloseLeftOpen closes the Sessions an earlier run of this replica left
// Open when it died: status.server is this replica and this process did
// not open them, so their relay is gone and their recording's writer with
// it. Each recording is sealed with what was stored (recording.Finish),
// and the Session closed with the restart as its reason, ended at the
// last recorded event, its bytes those the recording holds. ended, if not
// nil, is told of each Session closed (to count it on its request).
//
// Only this replica's Sessions are closed: another replica's Open
// Sessions are live on it. Those of a replica that never comes back
// (scaled down, renamed) are closed by the Lease holder once the
// replica's heartbeat lapses (CloseOfReplica). Replica names must be
// unique: a second replica started under a live one's name would cut
// that one's records.
//
// A Session that cannot be closed now (its recording unreadable) stays
// Open and is in the returned error; calling again retries it.
func (r *Records) CloseLeftOpen(ctx context.Context, ended func(context.Context, *janus.Session)) (int, error) {
	return r.closeOpenOf(ctx, r.server, RestartReason, ended)
}

// CloseOfReplica closes, as CloseLeftOpen does for this replica, the Open
// Sessions of another replica, server, that is gone (its heartbeat Lease
// lapsed: it stopped relaying them, or cut them itself), with reason.
func (r *Records) CloseOfReplica(ctx context.Context, server, reason string, ended func(context.Context, *janus.Session)) (int, error) {
	if server == r.server {
		return 0, fmt.Errorf("replica %s cannot count itself gone", server)
	}
	return r.closeOpenOf(ctx, server, reason, ended)
}

// OpenServers are the replicas named by the Open Sessions, once each.
func (r *Records) OpenServers(ctx context.Context) ([]string, error) {
	open, err := r.listOpen(ctx)
	if err != nil {
		return nil, err
	}
	var servers []string
	for i := range open {
		if s := open[i].Status.Server; !slices.Contains(servers, s) {
			servers = append(servers, s)
		}
	}
	return servers, nil
}

func (r *Records) listOpen(ctx context.Context) ([]janus.Session, error) {
	// The registry wants a request's namespace, even for cluster-scoped
	// objects; no request brought one here.
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
	obj, err := r.storage.Store.List(ctx, &metainternalversion.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldPhase, string(janus.SessionOpen)),
	})
	if err != nil {
		return nil, fmt.Errorf("listing open sessions: %w", err)
	}
	return obj.(*janus.SessionList).Items, nil
}

// closeOpenOf closes the Open Sessions of replica server that this
// process does not relay, with reason.
func (r *Records) closeOpenOf(ctx context.Context, server, reason string, ended func(context.Context, *janus.Session)) (int, error) {
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
	open, err := r.listOpen(ctx)
	if err != nil {
		return 0, err
	}
	var errs []error
	closedCount := 0
	for i := range open {
		s := &open[i]
		if s.Status.Server != server || r.live.has(s.Name) {
			continue
		}
		end, err := r.leftOpenEnd(ctx, s, reason)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := r.Close(ctx, s.Name, end); err != nil {
			errs = append(errs, err)
			continue
		}
		closedCount++
		klog.InfoS("Closed a session its replica left open", "session", s.Name, "replica", server, "request", s.Spec.Request, "user", s.Spec.User.Username, "ended", end.Ended.UTC(), "bytesOut", end.BytesOut, "reason", reason)
		if ended != nil {
			closed(s, end)
			ended(ctx, s)
		}
	}
	return closedCount, utilerrors.NewAggregate(errs)
}

// leftOpenEnd seals the recording of s and reads from it how s ended.
// A session without a recording (not recorded, or killed before its
// header was stored) ends now.
func (r *Records) leftOpenEnd(ctx context.Context, s *janus.Session, reason string) (End, error) {
	end := End{Ended: metav1.Now(), Reason: reason}
	if r.recordings == nil || s.Status.Recording == nil {
		return end, nil
	}
	sum, err := recording.Finish(ctx, r.recordings, s.Name)
	if errors.Is(err, recording.ErrNotFound) {
		klog.InfoS("A session left open has no recording", "session", s.Name)
		return end, nil
	}
	if err != nil {
		return End{}, fmt.Errorf("sealing the recording of session %s: %w", s.Name, err)
	}
	end.Recording = &sum
	rec, err := readEnd(ctx, r.recordings, s.Name)
	if err != nil {
		// The seal and digest are what matter; the time is the best we
		// know.
		klog.ErrorS(err, "Reading when a session left open ended; using now", "session", s.Name)
		return end, nil
	}
	if !rec.last.IsZero() {
		end.Ended = metav1.NewTime(rec.last)
	}
	end.BytesIn, end.BytesOut = rec.bytesIn, rec.bytesOut
	return end, nil
}

// recordedEnd is what a recording says of how its session ended.
type recordedEnd struct {
	// last is the time of the last event, or the header's when there is
	// none.
	last              time.Time
	bytesIn, bytesOut int64
}

// readEnd reads recording id an event at a time: a session of hours is
// never held whole.
func readEnd(ctx context.Context, store recording.Store, id string) (recordedEnd, error) {
	doc, err := recording.Open(ctx, store, id)
	if err != nil {
		return recordedEnd{}, err
	}
	defer doc.Close()
	lines := bufio.NewReader(doc)
	first, err := lines.ReadBytes('\n')
	if err != nil {
		return recordedEnd{}, fmt.Errorf("reading the header of recording %s: %w", id, err)
	}
	h, _, err := recording.Parse(first)
	if err != nil {
		return recordedEnd{}, fmt.Errorf("recording %s: %w", id, err)
	}
	start := time.Unix(h.Timestamp, 0)
	end := recordedEnd{last: start}
	for {
		line, err := lines.ReadBytes('\n')
		if len(line) > 1 {
			ev, perr := recording.ParseEvent(line)
			if perr != nil {
				return end, fmt.Errorf("reading recording %s: %w", id, perr)
			}
			end.last = start.Add(time.Duration(ev.Time * float64(time.Second)))
			switch ev.Code {
			case recording.CodeOutput:
				end.bytesOut += int64(len(ev.Data))
			case recording.CodeInput:
				end.bytesIn += int64(len(ev.Data))
			}
		}
		if errors.Is(err, io.EOF) {
			return end, nil
		}
		if err != nil {
			return end, fmt.Errorf("reading recording %s: %w", id, err)
		}
	}
}
