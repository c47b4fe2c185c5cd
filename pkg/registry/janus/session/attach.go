package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

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
	// relay follows, through its replica, a session another one relays.
	relay relay
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

// Get streams the session's output from this replica if it relays the
// session, else from the replica that does, over the peer link: either
// way the same header (written here, from the Session) and events.
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
		return r.attachThroughRelay(ctx, s)
	}
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	header, err := attachHeader(s, cols, rows, f.Started())
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

// attachThroughRelay follows s on the replica relaying it: that replica
// streams the events, this one writes the header before them and passes
// them on unchanged. Nothing goes the other way: the peer call is a GET
// without a body.
func (r *AttachREST) attachThroughRelay(ctx context.Context, s *janus.Session) (runtime.Object, error) {
	resp, err := r.relay.call(ctx, s, http.MethodGet, "attach", nil)
	if err != nil {
		return nil, err
	}
	var cols, rows int
	started, terr := time.Parse(time.RFC3339Nano, resp.Header.Get(headerSessionStarted))
	_, serr := fmt.Sscanf(resp.Header.Get(headerTerminalSize), "%dx%d", &cols, &rows)
	if terr != nil || serr != nil {
		resp.Body.Close()
		return nil, apierrors.NewInternalError(fmt.Errorf("replica %s streamed session %s without its terminal's size or start", s.Status.Server, s.Name))
	}
	header, err := attachHeader(s, cols, rows, started)
	if err != nil {
		resp.Body.Close()
		return nil, apierrors.NewInternalError(err)
	}
	klog.InfoS("Attaching through the relaying replica", "session", s.Name, "replica", s.Status.Server)
	return &streamer{flush: true, open: func(context.Context) (io.ReadCloser, error) {
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(header), resp.Body), resp.Body}, nil
	}}, nil
}

// attachHeader is the asciicast header of an attach stream.
func attachHeader(s *janus.Session, cols, rows int, started time.Time) ([]byte, error) {
	return recording.HeaderLine(recording.Header{
		Width: cols, Height: rows, Timestamp: started.Unix(), Command: strings.Join(s.Spec.Command, " "),
		Janus: recording.Metadata{
			Session: s.Name, Request: s.Spec.Request, User: s.Spec.User.Username, Cluster: s.Spec.Cluster,
			Namespace: s.Spec.Namespace, Pod: s.Spec.Pod, Container: s.Spec.Container, TTY: s.Spec.TTY,
		},
	})
}

// relayFollower writes the header and then the events, until the session
// ends, the follower falls behind, or its reader goes.
func relayFollower(ctx context.Context, f *session.Follower, header []byte, w *io.PipeWriter) {
	defer f.Stop()
	if _, err := w.Write(header); err != nil {
		return
	}
	why, err := writeEvents(ctx, f, w, func() {})
	if err != nil {
		w.CloseWithError(err)
		return
	}
	klog.V(2).InfoS("Attach stream ended", "reason", why)
	w.Close()
}

// writeEvents writes each event of f as a line, flushing after each
// write, until the session ends or the follower falls behind (then it
// says why), or ctx ends or w fails (then the error).
func writeEvents(ctx context.Context, f *session.Follower, w io.Writer, flush func()) (string, error) {
	var line []byte
	for {
		select {
		case ev, ok := <-f.Events():
			if !ok {
				return f.Ended(), nil
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
				return "", err
			}
			flush()
		case <-ctx.Done():
			return "", ctx.Err()
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
