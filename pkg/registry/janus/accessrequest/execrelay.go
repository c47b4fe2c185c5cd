package accessrequest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Channels of the Kubernetes remote-command websocket protocol
// (v5.channel.k8s.io and earlier): the first byte of a message.
const (
	channelStdout byte = 1
	channelStderr byte = 2
	channelError  byte = 3
)

// maxClientMessage bounds one message from the user (stdin, resize): a
// terminal never sends more, and a larger one closes the session rather
// than growing memory.
const maxClientMessage = 64 << 10

// statusUpdater writes a request's status: the status store.
type statusUpdater interface {
	Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error)
}

// sessionRecorder writes sessions into the request's status.
type sessionRecorder struct {
	store statusUpdater
}

const maxRecordedSessions = 100

func (s sessionRecorder) update(ctx context.Context, name string, mutate func(*janus.AccessRequest)) {
	ctx = context.WithoutCancel(ctx)
	_, _, err := s.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
		ar := old.(*janus.AccessRequest).DeepCopy()
		mutate(ar)
		return ar, nil
	}), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		klog.ErrorS(err, "Recording session", "request", name)
	}
}

func (s sessionRecorder) started(ctx context.Context, name string, session janus.Session) {
	s.update(ctx, name, func(ar *janus.AccessRequest) {
		ar.Status.Sessions = append(ar.Status.Sessions, session)
		if n := len(ar.Status.Sessions); n > maxRecordedSessions {
			ar.Status.Sessions = ar.Status.Sessions[n-maxRecordedSessions:]
		}
	})
}

func (s sessionRecorder) ended(ctx context.Context, name, id string, in, out int64, reason string) {
	now := metav1.Now()
	s.update(ctx, name, func(ar *janus.AccessRequest) {
		for i := range ar.Status.Sessions {
			if ar.Status.Sessions[i].ID == id {
				ar.Status.Sessions[i].EndedAt = &now
				ar.Status.Sessions[i].BytesIn, ar.Status.Sessions[i].BytesOut = in, out
				ar.Status.Sessions[i].EndReason = reason
			}
		}
	})
}

// websocketRelay terminates the user's websocket and opens its own to the
// agent, message by message, so that Janus knows each session's bytes,
// can tell the user why a session was cut, and never buffers more than one
// message per direction: a user who stops reading stops the command's
// output at its source.
type websocketRelay struct {
	// ctx is the context of the Connect call: it carries the request
	// information the registry needs, and outlives the HTTP request.
	ctx       context.Context
	store     rest.Getter
	sessions  sessionRecorder
	recorder  record.EventRecorder
	location  *url.URL
	transport *http.Transport
	session   janus.Session
	request   string
	// ref is the request the session's Events are about.
	ref runtime.Object
	// noticeChannel carries Janus's own lines to the user's terminal:
	// stderr, or stdout in a terminal session, which has no stderr. 0
	// when the user reads neither.
	noticeChannel byte
	// idleTimeout ends a session without a message in either direction
	// for this long; 0 never does.
	idleTimeout time.Duration
	clock       clock.Clock
}

func (r *websocketRelay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	dialer := websocket.Dialer{
		NetDialContext:   r.transport.DialContext,
		Subprotocols:     websocket.Subprotocols(req),
		HandshakeTimeout: 30 * time.Second,
	}
	target := *r.location
	target.Scheme = "ws"
	backend, resp, err := dialer.DialContext(req.Context(), target.String(), nil)
	if err != nil {
		// The target's answer (a 403 from its RBAC, say) reaches the user.
		if resp != nil {
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
			w.WriteHeader(resp.StatusCode)
			_, _ = w.Write(body)
			return
		}
		http.Error(w, "reaching the agent: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer backend.Close()
	upgrader := websocket.Upgrader{
		Subprotocols: []string{backend.Subprotocol()},
		// Only the aggregator reaches this server, with the user's
		// credentials checked; there is no browser origin to guard.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	conn, err := upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetReadLimit(maxClientMessage)
	client := newUserConn(conn)

	ctx := r.ctx
	idle := newIdleTimer(r.clock, r.idleTimeout)
	defer idle.stop()
	began := r.clock.Now()
	r.sessions.started(ctx, r.request, r.session)
	r.recorder.Event(r.ref, corev1.EventTypeNormal, "SessionStarted", r.describe()+": "+truncate(strings.Join(r.session.Command, " "), maxEventCommand))
	klog.InfoS("Session started", "request", r.request, "session", r.session.ID, "user", r.session.User, "namespace", r.session.Namespace, "pod", r.session.Pod)

	var in, out atomic.Int64
	userDone := make(chan error, 1)
	go func() {
		for {
			kind, data, err := conn.ReadMessage()
			if err != nil {
				userDone <- err
				return
			}
			idle.touch()
			in.Add(int64(len(data)))
			if err := backend.WriteMessage(kind, data); err != nil {
				userDone <- err
				return
			}
		}
	}()
	backendDone := make(chan error, 1)
	go func() {
		for {
			kind, data, err := backend.ReadMessage()
			if err != nil {
				backendDone <- err
				return
			}
			idle.touch()
			out.Add(int64(len(data)))
			if err := client.relay(kind, data); err != nil {
				backendDone <- err
				return
			}
		}
	}()

	var reason string
	for reason == "" {
		select {
		case err := <-userDone:
			reason = "closed by the user"
			if errors.Is(err, websocket.ErrReadLimit) {
				reason = fmt.Sprintf("the user sent a message over %d bytes", maxClientMessage)
			}
		case err := <-backendDone:
			reason = r.whyEnded(ctx, err)
			if strings.HasPrefix(reason, "janus: ") {
				r.tellUser(client, metav1.StatusReasonForbidden, reason)
			}
		case <-idle.C():
			switch idle.fired() {
			case idleWarning:
				r.notify(client, idle.warning())
			case idleExpired:
				reason = "idle"
				r.tellUser(client, metav1.StatusReasonTimeout, idle.closing())
			}
		}
	}
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.sessions.ended(ctx, r.request, r.session.ID, in.Load(), out.Load(), reason)
	took := r.clock.Since(began)
	r.recorder.Eventf(r.ref, corev1.EventTypeNormal, "SessionEnded", "%s ended after %s, %s in, %s out: %s",
		r.describe(), humanDuration(took), formatBytes(in.Load()), formatBytes(out.Load()), strings.TrimPrefix(reason, "janus: "))
	klog.InfoS("Session ended", "request", r.request, "session", r.session.ID, "reason", reason, "bytesIn", in.Load(), "bytesOut", out.Load(), "duration", took)
}

// maxEventCommand bounds the command quoted in an Event; the whole command
// is in status.sessions.
const maxEventCommand = 256

// describe names the session as people read it:
// "alice exec payments/payments-api-0 -c main".
func (r *websocketRelay) describe() string {
	s := fmt.Sprintf("%s exec %s/%s", r.session.User, r.session.Namespace, r.session.Pod)
	if r.session.Container != "" {
		s += " -c " + r.session.Container
	}
	return s
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

// whyEnded explains a session the far side closed: the command ended, or
// Janus cut it because the request ended.
func (r *websocketRelay) whyEnded(ctx context.Context, err error) string {
	if obj, getErr := r.store.Get(context.WithoutCancel(ctx), r.request, &metav1.GetOptions{}); getErr == nil {
		if why := accessEnded(obj.(*janus.AccessRequest), r.clock.Now()); why != "" {
			return "janus: " + why
		}
	}
	var closeErr *websocket.CloseError
	if errors.As(err, &closeErr) && closeErr.Code == websocket.CloseNormalClosure {
		return "command ended"
	}
	return "connection to the pod closed"
}

// accessEnded says why the access of ar is over, or "" while it lasts. At
// expiry the grant (and its sessions) go before the phase changes, so an
// Active request past expiresAt has expired too.
func accessEnded(ar *janus.AccessRequest, now time.Time) string {
	phase := strings.ToLower(string(ar.Status.Phase))
	d := ar.Status.Decision
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
	return ""
}

// tellUser writes why on the user's terminal and ends the session with a
// Failure status, as the remote-command protocol does.
func (r *websocketRelay) tellUser(client *userConn, reason metav1.StatusReason, why string) {
	r.notify(client, why)
	status, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Reason:   reason,
		Message:  why,
	})
	if err := client.notice(append([]byte{channelError}, status...)); err != nil {
		klog.V(2).InfoS("Telling the user why the session ended", "request", r.request, "session", r.session.ID, "err", err)
	}
}

// notify writes a line of Janus's own on the user's terminal.
func (r *websocketRelay) notify(client *userConn, line string) {
	if r.noticeChannel == 0 {
		return
	}
	if err := client.notice(append([]byte{r.noticeChannel}, []byte("\r\n"+line+"\r\n")...)); err != nil {
		klog.V(2).InfoS("Writing a notice to the user", "request", r.request, "session", r.session.ID, "err", err)
	}
}

// noticePatience is how long a notice waits for a user who is not reading
// before it is dropped.
const noticePatience = 5 * time.Second

var errNotReading = errors.New("the user is not reading")

// userConn is the user's websocket. Relayed output and Janus's own
// notices are written from different goroutines, and a websocket takes
// one writer at a time.
type userConn struct {
	conn *websocket.Conn
	// writing holds a token while a message is being written.
	writing chan struct{}
}

func newUserConn(c *websocket.Conn) *userConn {
	return &userConn{conn: c, writing: make(chan struct{}, 1)}
}

// relay writes a message from the command. It waits for as long as the
// user takes to read: that wait is what stops the command's output.
func (c *userConn) relay(kind int, data []byte) error {
	c.writing <- struct{}{}
	defer func() { <-c.writing }()
	return c.conn.WriteMessage(kind, data)
}

// notice writes a message of Janus's own. It gives up after
// noticePatience rather than wait forever on a user who is not reading.
func (c *userConn) notice(data []byte) error {
	patience := time.NewTimer(noticePatience)
	defer patience.Stop()
	select {
	case c.writing <- struct{}{}:
	case <-patience.C:
		return errNotReading
	}
	defer func() { <-c.writing }()
	if err := c.conn.SetWriteDeadline(time.Now().Add(noticePatience)); err != nil {
		return err
	}
	defer func() { _ = c.conn.SetWriteDeadline(time.Time{}) }()
	return c.conn.WriteMessage(websocket.BinaryMessage, data)
}

func newSessionID() string { return rand.String(10) }
