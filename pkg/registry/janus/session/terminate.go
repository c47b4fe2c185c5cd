package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/session"
)

// closeWait is how long terminate waits for the session's record to say
// it closed before it answers with the Session as it is.
const closeWait = 5 * time.Second

// TerminateREST serves sessions/NAME/terminate: POST a SessionTermination
// to cut that one session, with the reason on its user's terminal. The
// cluster's approvers may, through any replica: one that does not relay
// the session has the one that does cut it, over the peer link.
type TerminateREST struct {
	store *genericregistry.Store
	live  LiveSessions
	gate  gate
	// relay has the replica relaying a session cut it when another one
	// answers.
	relay relay
}

var (
	_ rest.NamedCreater    = &TerminateREST{}
	_ rest.StorageMetadata = &TerminateREST{}
)

func (r *TerminateREST) New() runtime.Object { return &janus.SessionTermination{} }

func (r *TerminateREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *TerminateREST) ProducesMIMETypes(string) []string { return nil }

// ProducesObject tells the OpenAPI builder that the answer is the Session.
func (r *TerminateREST) ProducesObject(string) interface{} { return v1alpha1.Session{} }

// Create terminates the session and answers with its Session once it is
// recorded as closed (or after closeWait, as it then is).
func (r *TerminateREST) Create(ctx context.Context, name string, body runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	t, ok := body.(*janus.SessionTermination)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("sessions/terminate takes a SessionTermination, not %T", body))
	}
	s, err := getSession(ctx, r.store, name)
	if err != nil {
		return nil, err
	}
	if err := r.gate.authorizeApprover(ctx, s, "terminate", "terminate"); err != nil {
		return nil, err
	}
	if errs := validation.ValidateSessionTermination(t); len(errs) > 0 {
		return nil, apierrors.NewInvalid(janus.Kind("SessionTermination"), name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, body); err != nil {
			return nil, err
		}
	}
	if err := notLive(s); err != nil {
		return nil, err
	}
	if len(opts.DryRun) > 0 {
		return s, nil
	}
	u, _ := caller(ctx)
	why := fmt.Sprintf("session terminated by %s: %s", u.GetName(), t.Reason)
	relayedBy := r.relay.self
	if err := r.live.Terminate(name, why); errors.Is(err, session.ErrSessionNotOpen) {
		resp, err := r.relay.call(ctx, s, http.MethodPost, "terminate", strings.NewReader(why))
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
		relayedBy = s.Status.Server
	} else if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	klog.InfoS("Session terminated", "session", name, "request", s.Spec.Request, "user", u.GetName(), "sessionUser", s.Spec.User.Username, "relayedBy", relayedBy)
	closed := s
	_ = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, closeWait, true, func(ctx context.Context) (bool, error) {
		got, err := getSession(ctx, r.store, name)
		if err != nil {
			return false, nil
		}
		closed = got
		return got.Status.Phase == janus.SessionClosed, nil
	})
	return closed, nil
}
