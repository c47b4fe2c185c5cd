package accessrequest

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/session"
	"github.com/infroware/janus/pkg/tunnel"
)

// streamGate checks who may open a stream under a request: the requester
// alone, only while the request is Active and its expiresAt has not
// passed (whether or not the controller has caught up), only in its
// namespaces. Every refusal is a 403 that says which rule was broken;
// options that are out of bounds are a 422 first. what is the
// subresource; the refusals name it by what it does.
func streamGate(ctx context.Context, store *genericregistry.Store, name, namespace, what string, invalid field.ErrorList, kind string) (*janus.AccessRequest, error) {
	action := cmp.Or(gateActions[what], gateAction{verb: what, noun: what})
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no authenticated user")
	}
	obj, err := store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	ar := obj.(*janus.AccessRequest)
	forbidden := func(format string, args ...any) error {
		return apierrors.NewForbidden(janus.Resource("accessrequests/"+what), name, fmt.Errorf(format, args...))
	}
	if !isRequester(u, ar) {
		return nil, forbidden("only the requester %q may %s under this request, not %q", ar.Spec.Requester.Username, action.verb, u.GetName())
	}
	if ar.Status.Phase != janus.AccessRequestActive {
		return nil, forbidden("the request is %s; %s needs an Active request", ar.Status.Phase, action.noun)
	}
	if ar.DeletionTimestamp != nil {
		return nil, forbidden("the request is being deleted, which revokes its access")
	}
	if ar.Status.ExpiresAt != nil && !time.Now().Before(ar.Status.ExpiresAt.Time) {
		return nil, forbidden("the request expired at %s", ar.Status.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if len(invalid) > 0 {
		return nil, apierrors.NewInvalid(janus.Kind(kind), name, invalid)
	}
	if !slices.Contains(ar.Spec.Namespaces, namespace) {
		return nil, forbidden("namespace %q is not granted by this request (granted: %s)", namespace, strings.Join(ar.Spec.Namespaces, ", "))
	}
	return ar, nil
}

// gateAction is what a subresource does, as the gate's refusals say it:
// "only the requester may <verb>", "<noun> needs an Active request".
type gateAction struct{ verb, noun string }

// gateActions are the subresources whose names are no verbs.
var gateActions = map[string]gateAction{
	"pods":   {verb: "list pods", noun: "listing pods"},
	"events": {verb: "list events", noun: "listing events"},
}

// ExecREST opens exec sessions through the agent of the request's cluster;
// the session engine carries them.
type ExecREST struct {
	store    *genericregistry.Store
	status   *genericregistry.Store
	engine   *session.Engine
	records  SessionRecords
	recorder record.EventRecorder
}

var _ rest.Connecter = &ExecREST{}

func (r *ExecREST) New() runtime.Object { return &janus.AccessRequestExecOptions{} }

func (r *ExecREST) Destroy() {}

// ConnectMethods are GET (websocket upgrades) and POST, which SPDY clients
// use and which is answered with a 400 that says to use websockets.
func (r *ExecREST) ConnectMethods() []string { return []string{http.MethodGet, http.MethodPost} }

func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &janus.AccessRequestExecOptions{}, false, ""
}

func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*janus.AccessRequestExecOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	ar, err := streamGate(ctx, r.store, name, o.Namespace, "exec", validation.ValidateAccessRequestExecOptions(o), "AccessRequestExecOptions")
	if err != nil {
		return nil, err
	}
	// The query the agent sees is encoded from the decoded options, never
	// copied from the client, so nothing smuggled into it reaches the target.
	query, err := tunnel.EncodeExecOptions(&corev1.PodExecOptions{
		Container: o.Container, Command: o.Command, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, TTY: o.TTY,
	})
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	u, _ := genericapirequest.UserFrom(ctx)
	id := newSessionID()
	spec := session.Spec{
		ID: id, Request: name, Cluster: ar.Spec.Cluster, User: u.GetName(),
		Path:          tunnel.StreamPath(tunnel.PathExec, name, o.Namespace, o.Pod),
		Query:         query.Encode(),
		NoticeChannel: session.NoticeChannel(o.Stdout, o.Stderr),
	}
	observer := &sessionObserver{
		ctx: context.WithoutCancel(ctx), requests: r.store, status: r.status, records: r.records, recorder: r.recorder, ref: events.Ref(ar), request: name, now: time.Now,
		session: &janus.Session{
			ObjectMeta: metav1.ObjectMeta{Name: sessionName(name, id)},
			Spec: janus.SessionSpec{
				Request: name, Cluster: ar.Spec.Cluster, Namespace: o.Namespace, Pod: o.Pod, Container: o.Container,
				Command: o.Command, TTY: o.TTY, User: janus.SessionUser{Username: u.GetName(), UID: u.GetUID()},
			},
		},
	}
	klog.InfoS("Opening session", "request", name, "session", id, "user", u.GetName(), "namespace", o.Namespace, "pod", o.Pod)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.engine.ServeExec(w, req, spec, observer, responder)
	}), nil
}

// LogREST relays pods/log through the agent of the request's cluster.
type LogREST struct {
	store  *genericregistry.Store
	engine *session.Engine
}

var _ rest.Connecter = &LogREST{}

func (r *LogREST) New() runtime.Object { return &janus.AccessRequestLogOptions{} }

func (r *LogREST) Destroy() {}

func (r *LogREST) ConnectMethods() []string { return []string{http.MethodGet} }

func (r *LogREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &janus.AccessRequestLogOptions{}, false, ""
}

func (r *LogREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*janus.AccessRequestLogOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	ar, err := streamGate(ctx, r.store, name, o.Namespace, "log", validation.ValidateAccessRequestLogOptions(o), "AccessRequestLogOptions")
	if err != nil {
		return nil, err
	}
	query, err := tunnel.EncodeLogOptions(&corev1.PodLogOptions{
		Container: o.Container, Follow: o.Follow, Previous: o.Previous, SinceSeconds: o.SinceSeconds,
		Timestamps: o.Timestamps, TailLines: o.TailLines, LimitBytes: o.LimitBytes,
	})
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	path := tunnel.StreamPath(tunnel.PathLog, name, o.Namespace, o.Pod)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.engine.ServeLog(w, req, ar.Spec.Cluster, path, query.Encode(), responder)
	}), nil
}
