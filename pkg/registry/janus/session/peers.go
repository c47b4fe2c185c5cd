package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/session"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// Peers reach the other replicas over the authenticated peer link
// (tunnelserver.Server.CallPeer).
type Peers interface {
	CallPeer(ctx context.Context, replica, method, call string, body io.Reader) (*http.Response, error)
}

// The peer calls below are how a replica that answered attach or
// terminate for a session another replica relays has that one do it.
// The answering replica has already authorized the approver; the relaying
// one only checks that the caller is a peer (tunnelserver does, before
// PeerCalls sees the call).
const (
	// headerTerminalSize is the followed terminal's size: "<cols>x<rows>".
	headerTerminalSize = "X-Janus-Terminal-Size"
	// headerSessionStarted is when the followed session started, the
	// origin of its events' times (RFC 3339 with nanoseconds).
	headerSessionStarted = "X-Janus-Session-Started"
	// maxPeerTermination bounds the termination notice a peer sends: the
	// approver's name and a reason of at most 1024 characters.
	maxPeerTermination = 8 << 10
	// peerAnswerExcerpt bounds what of a peer's unexpected answer is
	// quoted in an error.
	peerAnswerExcerpt = 256
)

func peerCall(name, subresource string) string {
	return "/sessions/" + url.PathEscape(name) + "/" + subresource
}

// PeerCalls serves the calls peers make about the sessions this replica
// relays: GET /sessions/NAME/attach streams the live session's events as
// asciicast event lines (the caller writes the header, from its own read
// of the Session), POST /sessions/NAME/terminate cuts it with the notice
// in the body. 404 when the session is not live here. Like the attach
// subresource, the attach call reads nothing from its caller: a follower
// has no way into the session.
func PeerCalls(live LiveSessions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /sessions/{name}/attach", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		f, cols, rows, err := live.Follow(name)
		if err != nil {
			http.Error(w, fmt.Sprintf("session %s is not live on this replica", name), http.StatusNotFound)
			return
		}
		defer f.Stop()
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set(headerTerminalSize, fmt.Sprintf("%dx%d", cols, rows))
		w.Header().Set(headerSessionStarted, f.Started().UTC().Format(time.RFC3339Nano))
		w.WriteHeader(http.StatusOK)
		flusher, _ := w.(http.Flusher)
		flush := func() {
			if flusher != nil {
				flusher.Flush()
			}
		}
		flush()
		klog.InfoS("A peer follows a session relayed here", "session", name, "peer", tunnelserver.CallingPeer(req))
		why, _ := writeEvents(req.Context(), f, w, flush)
		klog.V(2).InfoS("A peer's follow ended", "session", name, "reason", why)
	})
	mux.HandleFunc("POST /sessions/{name}/terminate", func(w http.ResponseWriter, req *http.Request) {
		name := req.PathValue("name")
		notice, err := io.ReadAll(io.LimitReader(req.Body, maxPeerTermination+1))
		switch {
		case err != nil:
			http.Error(w, "reading the termination: "+err.Error(), http.StatusBadRequest)
			return
		case len(notice) == 0 || len(notice) > maxPeerTermination:
			http.Error(w, "a termination needs a notice of at most "+strconv.Itoa(maxPeerTermination)+" bytes", http.StatusBadRequest)
			return
		}
		if err := live.Terminate(name, string(notice)); errors.Is(err, session.ErrSessionNotOpen) {
			http.Error(w, fmt.Sprintf("session %s is not live on this replica", name), http.StatusNotFound)
			return
		} else if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		klog.InfoS("Session terminated for a peer", "session", name, "peer", tunnelserver.CallingPeer(req))
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// relay reaches the replica that relays a session: the answering
// replica's way to serve attach and terminate for a session another one
// relays.
type relay struct {
	store *genericregistry.Store
	peers Peers
	// self is this replica's name.
	self string
}

// call makes a peer call about s on the replica relaying it and answers
// with the peer's 2xx response, or with the API error that says why it
// cannot be made: 409 when s closed meanwhile (restart recovery closes
// the sessions of a replica that was killed), else 503 naming the
// replica, which a client may retry.
func (r relay) call(ctx context.Context, s *janus.Session, method, subresource string, body io.Reader) (*http.Response, error) {
	server := s.Status.Server
	if server == "" || server == r.self {
		// This replica relayed it and holds it no more: it just ended, or
		// a restart cut it and recovery is closing its record.
		if err := r.closedNow(ctx, s); err != nil {
			return nil, err
		}
		return nil, apierrors.NewServiceUnavailable(fmt.Sprintf("session %s is no longer live on janus-apiserver replica %q, which relayed it; its record is being closed, try again", s.Name, server))
	}
	if r.peers == nil {
		return nil, r.unreachable(ctx, s, "peering is off")
	}
	resp, err := r.peers.CallPeer(ctx, server, method, peerCall(s.Name, subresource), body)
	if err != nil {
		why := err.Error()
		if errors.Is(err, tunnelserver.ErrNotAPeer) {
			why = "it is not among this replica's peers: gone, or not peered"
		}
		return nil, r.unreachable(ctx, s, why)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, peerAnswerExcerpt))
	resp.Body.Close()
	klog.InfoS("A peer refused a session call", "session", s.Name, "peer", server, "call", subresource, "status", resp.StatusCode, "answer", strings.TrimSpace(string(excerpt)))
	if resp.StatusCode == http.StatusNotFound {
		return nil, r.unreachable(ctx, s, "the session is not live there (it ended, or the replica restarted)")
	}
	return nil, r.unreachable(ctx, s, fmt.Sprintf("it answered %d: %s", resp.StatusCode, strings.TrimSpace(string(excerpt))))
}

// unreachable is the answer when the relaying replica cannot do it: 409 if
// the Session closed meanwhile, 503 naming the replica and why otherwise.
func (r relay) unreachable(ctx context.Context, s *janus.Session, why string) error {
	if err := r.closedNow(ctx, s); err != nil {
		return err
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("session %s is relayed by janus-apiserver replica %q, which this replica cannot reach (%s); if that replica is gone, the session is closed when it starts again or, with heartbeat Leases, once its Lease lapses", s.Name, s.Status.Server, why))
}

// closedNow is notLive's 409 if s is closed by now.
func (r relay) closedNow(ctx context.Context, s *janus.Session) error {
	if now, err := getSession(ctx, r.store, s.Name); err == nil {
		return notLive(now)
	}
	return nil
}
