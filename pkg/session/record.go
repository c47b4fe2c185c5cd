package session

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/recording"
	"github.com/infroware/janus/pkg/tunnel"
)

// RecordingFailure is what becomes of a session whose recording fails.
type RecordingFailure string

const (
	// RecordingFailClose refuses a session that cannot be recorded and
	// cuts one whose recording stops: no recording, no session.
	RecordingFailClose RecordingFailure = "close"
	// RecordingFailContinue runs such sessions unrecorded, and logs it.
	RecordingFailContinue RecordingFailure = "continue"
)

// RecordingConfig is how the engine records sessions.
type RecordingConfig struct {
	Store recording.Store
	// RecordInput records what the user types ("i" events); off by
	// default, since people type passwords.
	RecordInput bool
	Failure     RecordingFailure
	Options     recording.Options
}

// Channel of the remote-command protocol that carries terminal resizes.
const channelResize byte = 4

// maxResizeMessage bounds the resize message the recorder reads.
const maxResizeMessage = 256

// RecordingID is the recording's name: the Session's, <request>-<id>.
func RecordingID(spec Spec) string { return spec.Request + "-" + spec.ID }

// sessionRecorder is one session's recording as the relay sees it. A nil
// *sessionRecorder records nothing, so an engine without a store and a
// session let through unrecorded need no special case.
type sessionRecorder struct {
	// w records; nil when the session is not recorded.
	w *recording.Writer
	// hub shows what is recorded to the session's live followers.
	hub         *followHub
	spec        Spec
	recordInput bool
	// mustRecord: a failed write cuts the session.
	mustRecord bool
	failOnce   sync.Once
}

// startRecording writes the recording's header before the session opens.
// It returns nil (record nothing) when the engine has no store, or when
// the store fails and --recording-failure=continue lets the session run.
func (e *Engine) startRecording(ctx context.Context, spec Spec) (*sessionRecorder, error) {
	cfg := e.cfg.Recording
	if cfg == nil || cfg.Store == nil {
		return nil, nil
	}
	w, err := recording.Start(ctx, cfg.Store, RecordingID(spec), recordingHeader(spec), cfg.Options)
	if err != nil {
		if cfg.Failure == RecordingFailContinue {
			klog.ErrorS(err, "Recording a session; running it unrecorded (--recording-failure=continue)", "request", spec.Request, "session", spec.ID)
			return nil, nil
		}
		klog.ErrorS(err, "Recording a session; refusing it", "request", spec.Request, "session", spec.ID)
		return nil, apierrors.NewServiceUnavailable("the session cannot be recorded, and Janus runs no session it cannot record (--recording-failure=close): " + err.Error())
	}
	return &sessionRecorder{w: w, spec: spec, recordInput: cfg.RecordInput, mustRecord: cfg.Failure != RecordingFailContinue}, nil
}

// recordingHeader describes the session in the recording's header. The
// terminal's size is not known before the client's first resize, which is
// recorded as an "r" event at once; kubectl sends no TERM, so a terminal
// session is assumed to be the usual xterm-256color.
func recordingHeader(spec Spec) recording.Header {
	h := recording.Header{Janus: recording.Metadata{
		Session: RecordingID(spec), Request: spec.Request, User: spec.User, Cluster: spec.Cluster,
	}}
	if q, err := url.ParseQuery(spec.Query); err == nil {
		if o, err := tunnel.DecodeExecOptions(q); err == nil {
			h.Command = strings.Join(o.Command, " ")
			h.Janus.Container, h.Janus.TTY = o.Container, o.TTY
			if o.TTY {
				h.Env = map[string]string{"TERM": "xterm-256color"}
			}
		}
	}
	// Path is tunnel.StreamPath(prefix, request, namespace, pod).
	parts := strings.Split(spec.Path, "/")
	if n := len(parts); n >= 2 {
		h.Janus.Namespace, _ = url.PathUnescape(parts[n-2])
		h.Janus.Pod, _ = url.PathUnescape(parts[n-1])
	}
	return h
}

// withHub has the recorder show what it records to hub's followers too,
// recorded or not.
func (r *sessionRecorder) withHub(h *followHub, spec Spec) *sessionRecorder {
	if r == nil {
		r = &sessionRecorder{spec: spec}
	}
	r.hub = h
	return r
}

// failed is closed once a write the session cannot run without failed.
func (r *sessionRecorder) failed() <-chan struct{} {
	if r == nil || !r.mustRecord || r.w == nil {
		return nil
	}
	return r.w.Failed()
}

func (r *sessionRecorder) check(err error) {
	if err == nil || r.mustRecord {
		return
	}
	r.failOnce.Do(func() {
		klog.ErrorS(err, "Recording a session; it goes on unrecorded (--recording-failure=continue)", "request", r.spec.Request, "session", r.spec.ID)
	})
}

func (r *sessionRecorder) output(p []byte) {
	if r == nil {
		return
	}
	r.hub.output(p)
	if r.w != nil {
		r.check(r.w.Output(p))
	}
}

// input is never shown to followers: people type passwords.
func (r *sessionRecorder) input(p []byte) {
	if r != nil && r.recordInput && r.w != nil {
		r.check(r.w.Input(p))
	}
}

func (r *sessionRecorder) resize(cols, rows int) {
	if r == nil {
		return
	}
	r.hub.resize(cols, rows)
	if r.w != nil {
		r.check(r.w.Resize(cols, rows))
	}
}

func (r *sessionRecorder) marker(line string) {
	if r == nil {
		return
	}
	r.hub.marker(line)
	if r.w != nil {
		r.check(r.w.Marker(line))
	}
}

// close seals the recording and says where it is and its digest.
func (r *sessionRecorder) close() *recording.Summary {
	if r == nil || r.w == nil {
		return nil
	}
	s, err := r.w.Close()
	if err != nil {
		klog.ErrorS(err, "Closing a session's recording", "request", r.spec.Request, "session", r.spec.ID)
	} else {
		klog.InfoS("Recorded session", "request", r.spec.Request, "session", r.spec.ID, "location", s.Location, "size", s.Size, "sha256", s.SHA256)
	}
	return &s
}

// upstreamTap reads the user's frames for the recording: resizes always,
// stdin only when input is recorded. The user's frames are masked; the
// relay forwards them masked, the tap unmasks a copy.
type upstreamTap struct {
	rec *sessionRecorder

	mask       [4]byte
	offset     int64
	newMessage bool
	channel    byte
	haveChan   bool
	resize     []byte
	scratch    []byte
}

// begin is shown each data frame's header before its payload.
func (t *upstreamTap) begin(h *frameHeader) {
	t.mask, t.offset = h.mask, 0
	if h.opcode != opContinuation {
		t.newMessage, t.haveChan, t.resize = true, false, t.resize[:0]
	}
}

func (t *upstreamTap) see(_ bool, payload []byte) {
	if !t.haveChan {
		if len(payload) == 0 {
			return
		}
		t.channel = payload[0] ^ t.mask[t.offset%4]
		t.haveChan = true
		t.offset++
		payload = payload[1:]
	}
	switch {
	case t.channel == channelResize:
		if len(t.resize)+len(payload) <= maxResizeMessage {
			t.resize = t.unmask(t.resize, payload)
		}
	case t.channel == 0 && t.rec.recordInput:
		t.scratch = t.unmask(t.scratch[:0], payload)
		t.rec.input(t.scratch)
	}
	t.offset += int64(len(payload))
}

func (t *upstreamTap) unmask(dst, payload []byte) []byte {
	for i, b := range payload {
		dst = append(dst, b^t.mask[(t.offset+int64(i))%4])
	}
	return dst
}

// end is called when a message is complete.
func (t *upstreamTap) end() {
	if t.channel != channelResize || !t.haveChan {
		return
	}
	var size struct{ Width, Height int }
	if json.Unmarshal(t.resize, &size) == nil && size.Width > 0 && size.Height > 0 {
		t.rec.resize(size.Width, size.Height)
	}
}

// recordingCut is why a session ends whose recording stopped.
func recordingCut(rec *sessionRecorder) string {
	klog.ErrorS(rec.w.Err(), "Recording a session failed; cutting it (--recording-failure=close)", "request", rec.spec.Request, "session", rec.spec.ID)
	return "session closed: its recording could not be written, and Janus runs no session it cannot record"
}
