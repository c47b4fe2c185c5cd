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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Channels of the Kubernetes remote-command websocket protocol
// (v5.channel.k8s.io and earlier): the first byte of a message.
const (
	channelStderr byte = 2
	channelError  byte = 3
)

// maxClientMessage bounds one message from the user (stdin, resize): a
// terminal never sends more, and a larger one closes the session rather
// than growing memory.
const maxClientMessage = 64 << 10

// sessionRecorder writes sessions into the request's status.
type sessionRecorder struct {
	store *genericregistry.Store
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
	store     *genericregistry.Store
	sessions  sessionRecorder
	location  *url.URL
	transport *http.Transport
	session   janus.Session
	request   string
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
	client, err := upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	defer client.Close()
	client.SetReadLimit(maxClientMessage)

	ctx := r.ctx
	r.sessions.started(ctx, r.request, r.session)
	var in, out atomic.Int64
	userDone := make(chan error, 1)
	go func() {
		for {
			kind, data, err := client.ReadMessage()
			if err != nil {
				userDone <- err
				return
			}
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
			out.Add(int64(len(data)))
			if err := client.WriteMessage(kind, data); err != nil {
				backendDone <- err
				return
			}
		}
	}()

	var reason string
	select {
	case err := <-userDone:
		reason = "closed by the user"
		if errors.Is(err, websocket.ErrReadLimit) {
			reason = fmt.Sprintf("the user sent a message over %d bytes", maxClientMessage)
		}
	case err := <-backendDone:
		reason = r.whyEnded(ctx, err)
		if strings.HasPrefix(reason, "janus: ") {
			r.tellUser(client, reason)
		}
	}
	_ = client.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	r.sessions.ended(ctx, r.request, r.session.ID, in.Load(), out.Load(), reason)
	klog.InfoS("Session ended", "request", r.request, "session", r.session.ID, "reason", reason, "bytesIn", in.Load(), "bytesOut", out.Load())
}

// whyEnded explains a session the far side closed: the command ended, or
// Janus cut it because the request ended.
func (r *websocketRelay) whyEnded(ctx context.Context, err error) string {
	obj, getErr := r.store.Get(context.WithoutCancel(ctx), r.request, &metav1.GetOptions{})
	if getErr == nil {
		ar := obj.(*janus.AccessRequest)
		switch ar.Status.Phase {
		case janus.AccessRequestRevoked, janus.AccessRequestWithdrawn, janus.AccessRequestExpired:
			return "janus: " + describeEnd(ar)
		case janus.AccessRequestActive:
			// At expiry the grant (and its sessions) go before the phase
			// changes.
			if ar.Status.ExpiresAt != nil && !time.Now().Before(ar.Status.ExpiresAt.Time) {
				return fmt.Sprintf("janus: access expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))
			}
		}
	}
	var closeErr *websocket.CloseError
	if errors.As(err, &closeErr) && closeErr.Code == websocket.CloseNormalClosure {
		return "command ended"
	}
	return "connection to the pod closed"
}

func describeEnd(ar *janus.AccessRequest) string {
	d := ar.Status.Decision
	switch {
	case ar.Status.Phase == janus.AccessRequestExpired:
		return fmt.Sprintf("access expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))
	case d == nil:
		return "access " + strings.ToLower(string(ar.Status.Phase))
	case d.Reason != "":
		return fmt.Sprintf("access %s by %s: %s", strings.ToLower(string(ar.Status.Phase)), d.User, d.Reason)
	}
	return fmt.Sprintf("access %s by %s", strings.ToLower(string(ar.Status.Phase)), d.User)
}

// tellUser writes why on the user's terminal (stderr) and ends the
// session with a Failure status, as the remote-command protocol does.
func (r *websocketRelay) tellUser(client *websocket.Conn, why string) {
	_ = client.WriteMessage(websocket.BinaryMessage, append([]byte{channelStderr}, []byte("\r\n"+why+"\r\n")...))
	status, _ := json.Marshal(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure,
		Reason:   metav1.StatusReasonForbidden,
		Message:  why,
	})
	_ = client.WriteMessage(websocket.BinaryMessage, append([]byte{channelError}, status...))
}

func newSessionID() string { return rand.String(10) }
