package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/session"
)

// LiveSessions are the sessions this replica relays (session.Engine).
type LiveSessions interface {
	Follow(name string) (*session.Follower, int, int, error)
	Terminate(name, why string) error
}

// AttachREST serves sessions/NAME/attach: GET a live session's output as
// an asciicast stream, for the cluster's approvers. It is a plain GET,
// strictly read-only: nothing the follower sends reaches the session.
//
// It is "attach", not "follow" as DESIGN.md first named it, because
// kube-apiserver exempts only watch and the attach, exec, log, proxy and
// portforward subresources from its --request-timeout: through the
// aggregator, a "follow" stream would be cut after a minute.
type AttachREST struct {
	store *genericregistry.Store
	live  LiveSessions
	gate  gate
}

var (
	_ rest.Getter          = &AttachREST{}
	_ rest.StorageMetadata = &AttachREST{}
)

func (r *AttachREST) New() runtime.Object { return &janus.Session{} }

func (r *AttachREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *AttachREST) ProducesMIMETypes(string) []string { return []string{ContentType} }

// ProducesObject implements rest.StorageMetadata.
func (r *AttachREST) ProducesObject(string) interface{} { return "" }

func (r *AttachREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	s, err := getSession(ctx, r.store, name)
	if err != nil {
		return nil, err
	}
	if err := r.gate.authorizeApprover(ctx, s, "attach", "attach to"); err != nil {
		return nil, err
	}
	if err := notLive(s); err != nil {
		return nil, err
	}
	f, cols, rows, err := r.live.Follow(name)
	if errors.Is(err, session.ErrNotFollowable) {
		return nil, elsewhere(s)
	}
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	header, err := recording.HeaderLine(recording.Header{
		Width: cols, Height: rows, Timestamp: f.Started().Unix(), Command: strings.Join(s.Spec.Command, " "),
		Janus: recording.Metadata{
			Session: s.Name, Request: s.Spec.Request, User: s.Spec.User.Username, Cluster: s.Spec.Cluster,
			Namespace: s.Spec.Namespace, Pod: s.Spec.Pod, Container: s.Spec.Container, TTY: s.Spec.TTY,
		},
	})
	if err != nil {
		f.Stop()
		return nil, apierrors.NewInternalError(err)
	}
	return &streamer{flush: true, open: func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go relayFollower(ctx, f, header, pw)
		return pr, nil
	}}, nil
}

// relayFollower writes the header and then each event as a line, until
// the session ends, the follower falls behind, or its reader goes.
func relayFollower(ctx context.Context, f *session.Follower, header []byte, w *io.PipeWriter) {
	defer f.Stop()
	if _, err := w.Write(header); err != nil {
		return
	}
	var line []byte
	for {
		select {
		case ev, ok := <-f.Events():
			if !ok {
				klog.V(2).InfoS("Attach stream ended", "reason", f.Ended())
				w.Close()
				return
			}
			line = recording.AppendEventLine(line[:0], ev.Elapsed, ev.Code, ev.Data)
			// Whatever waits is sent with it, in one write and one flush.
			for more := true; more && len(line) < 64<<10; {
				select {
				case ev, ok := <-f.Events():
					if !ok {
						more = false
						break
					}
					line = recording.AppendEventLine(line, ev.Elapsed, ev.Code, ev.Data)
				default:
					more = false
				}
			}
			if _, err := w.Write(line); err != nil {
				return
			}
		case <-ctx.Done():
			w.CloseWithError(ctx.Err())
			return
		}
	}
}

// notLive refuses a session that has ended: its recording tells the rest.
func notLive(s *janus.Session) error {
	if s.Status.Phase == janus.SessionClosed {
		return apierrors.NewConflict(janus.Resource("sessions"), s.Name,
			fmt.Errorf("the session ended (%s); its recording is at sessions/%s/recording", s.Status.EndReason, s.Name))
	}
	return nil
}

// elsewhere is the answer for an open session this replica does not
// relay: it runs on another replica, or this one restarted under it.
func elsewhere(s *janus.Session) error {
	return apierrors.NewServiceUnavailable(fmt.Sprintf("session %s is relayed by janus-apiserver replica %q, not by the one that answered; try again", s.Name, s.Status.Server))
}
