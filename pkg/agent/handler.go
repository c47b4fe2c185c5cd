package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// maxBodyBytes bounds a request body; a reconcile of a thousand grants
// stays far below it.
const maxBodyBytes = 4 << 20

// Grants is what the agent API serves. *Provisioner is the real one.
type Grants interface {
	Info(ctx context.Context) (tunnel.AgentInfo, error)
	Ensure(ctx context.Context, spec tunnel.GrantSpec) (tunnel.GrantStatus, error)
	Remove(ctx context.Context, request string) error
	Reconcile(ctx context.Context, req tunnel.ReconcileRequest) (tunnel.ReconcileResult, error)
}

var _ Grants = (*Provisioner)(nil)

// NewHandler serves the agent API of package tunnel (protocol.go) from
// grants. It is reached only through the tunnel janus-apiserver holds, so
// it has no authentication of its own. Every error is a tunnel.Error: 400
// for a malformed request, 422 for a grant the agent's policy refuses, 5xx
// when the target cluster or the agent failed.
func NewHandler(grants Grants) http.Handler {
	return newMux(grants, nil)
}

// NewHandlerWithStreams also relays exec and log streams and answers the
// pods and events reads (reads.go), and ends a request's streams when its
// grant is removed.
func NewHandlerWithStreams(p *Provisioner, streams *StreamRelay) http.Handler {
	return newMux(grantsCuttingStreams{Provisioner: p, streams: streams}, streams)
}

func newMux(grants Grants, streams *StreamRelay) http.Handler {
	h := &handler{grants: grants}
	mux := http.NewServeMux()
	if streams != nil {
		mux.HandleFunc(tunnel.PathExec+"{request}/{namespace}/{pod}", served("exec", streams.exec))
		mux.HandleFunc("GET "+tunnel.PathLog+"{request}/{namespace}/{pod}", served("log", streams.log))
		mux.HandleFunc("GET "+tunnel.PathPods+"{request}/{namespace}", served("pods", streams.pods))
		mux.HandleFunc("GET "+tunnel.PathEvents+"{request}/{namespace}", served("events", streams.events))
	}
	mux.HandleFunc("GET "+tunnel.PathInfo, served("info", h.info))
	mux.HandleFunc("PUT "+tunnel.PathGrants+"{request}", served("ensure_grant", h.putGrant))
	mux.HandleFunc("DELETE "+tunnel.PathGrants+"{request}", served("remove_grant", h.deleteGrant))
	mux.HandleFunc("POST "+tunnel.PathReconcile, served("reconcile", h.reconcile))
	// The patterns without a method answer the methods the ones above do
	// not take, so that those errors are tunnel.Errors too.
	mux.Handle(tunnel.PathInfo, methodNotAllowed(http.MethodGet))
	mux.Handle(tunnel.PathGrants+"{request}", methodNotAllowed(http.MethodPut, http.MethodDelete))
	mux.Handle(tunnel.PathReconcile, methodNotAllowed(http.MethodPost))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, tunnel.Error{Message: fmt.Sprintf("the agent serves no %s", r.URL.Path)})
	})
	return mux
}

type handler struct {
	grants Grants
}

func (h *handler) info(w http.ResponseWriter, r *http.Request) {
	info, err := h.grants.Info(r.Context())
	if err != nil {
		h.fail(w, r, "", err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *handler) putGrant(w http.ResponseWriter, r *http.Request) {
	request := r.PathValue("request")
	if err := checkRequestName(request); err != nil {
		h.fail(w, r, request, err)
		return
	}
	var spec tunnel.GrantSpec
	if !readJSON(w, r, &spec) {
		return
	}
	switch spec.Request {
	case "":
		spec.Request = request
	case request:
	default:
		h.fail(w, r, request, invalidf("the body names request %q, the path %q", spec.Request, request))
		return
	}
	status, err := h.grants.Ensure(r.Context(), spec)
	if err != nil {
		h.fail(w, r, request, err)
		return
	}
	grantsEnsured.Inc()
	writeJSON(w, http.StatusOK, status)
}

func (h *handler) deleteGrant(w http.ResponseWriter, r *http.Request) {
	request := r.PathValue("request")
	if err := checkRequestName(request); err != nil {
		h.fail(w, r, request, err)
		return
	}
	if err := h.grants.Remove(r.Context(), request); err != nil {
		h.fail(w, r, request, err)
		return
	}
	grantsRemoved.Inc()
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) reconcile(w http.ResponseWriter, r *http.Request) {
	var req tunnel.ReconcileRequest
	if !readJSON(w, r, &req) {
		return
	}
	result, err := h.grants.Reconcile(r.Context(), req)
	if err != nil {
		h.fail(w, r, "", err)
		return
	}
	grantsEnsured.Add(float64(len(result.Ensured)))
	grantsRemoved.Add(float64(len(result.Removed)))
	writeJSON(w, http.StatusOK, result)
}

// fail answers with err as a tunnel.Error.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, request string, err error) {
	status := http.StatusInternalServerError
	switch {
	case IsInvalid(err):
		status = http.StatusBadRequest
	case IsRefused(err):
		status = http.StatusUnprocessableEntity
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		status = http.StatusServiceUnavailable
	}
	if status >= 500 {
		klog.ErrorS(err, "Agent API request failed", "method", r.Method, "path", r.URL.Path, "request", request)
	}
	writeError(w, status, tunnel.Error{Message: err.Error(), Refused: IsRefused(err)})
}

// readJSON decodes the body into v, or answers 400 (413 if it is too big)
// and returns false. Unknown fields are ignored, so that a newer server
// can talk to an older agent.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, tunnel.Error{Message: fmt.Sprintf("the body must be application/json, not %s", ct)})
		return false
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes)).Decode(v)
	if err == nil {
		return true
	}
	if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
		writeError(w, http.StatusRequestEntityTooLarge, tunnel.Error{Message: fmt.Sprintf("the body is larger than %d bytes", tooBig.Limit)})
		return false
	}
	writeError(w, http.StatusBadRequest, tunnel.Error{Message: fmt.Sprintf("decoding the body: %v", err)})
	return false
}

func methodNotAllowed(allowed ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, http.StatusMethodNotAllowed, tunnel.Error{
			Message: fmt.Sprintf("%s takes %s, not %s", r.URL.Path, strings.Join(allowed, " or "), r.Method),
		})
	})
}

func writeError(w http.ResponseWriter, status int, body tunnel.Error) {
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		klog.V(2).InfoS("Writing an agent API answer failed", "err", err)
	}
}
