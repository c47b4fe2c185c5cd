package accessrequest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/proxy"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/tunnel"
)

// StreamLocator finds where a cluster's agent serves exec and log streams.
type StreamLocator interface {
	Locate(cluster, path string, query url.Values) (*url.URL, *http.Transport, error)
}

// streamGate checks who may open a stream under a request: the requester
// alone, only while the request is Active, only in its namespaces. Every
// refusal is a 403 that says which rule was broken.
func streamGate(ctx context.Context, store *genericregistry.Store, name, namespace, pod, what string) (*janus.AccessRequest, error) {
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
		return nil, forbidden("only the requester %q may %s under this request, not %q", ar.Spec.Requester.Username, what, u.GetName())
	}
	if ar.Status.Phase != janus.AccessRequestActive {
		return nil, forbidden("the request is %s; %s needs an Active request", ar.Status.Phase, what)
	}
	var errs field.ErrorList
	for _, msg := range utilvalidation.IsDNS1123Label(namespace) {
		errs = append(errs, field.Invalid(field.NewPath("namespace"), namespace, msg))
	}
	for _, msg := range utilvalidation.IsDNS1123Subdomain(pod) {
		errs = append(errs, field.Invalid(field.NewPath("pod"), pod, msg))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(janus.Kind("AccessRequestExecOptions"), name, errs)
	}
	if !slices.Contains(ar.Spec.Namespaces, namespace) {
		return nil, forbidden("namespace %q is not granted by this request (granted: %s)", namespace, strings.Join(ar.Spec.Namespaces, ", "))
	}
	return ar, nil
}

// ExecREST relays pods/exec through the agent of the request's cluster.
type ExecREST struct {
	store    *genericregistry.Store
	status   *genericregistry.Store
	streams  StreamLocator
	recorder record.EventRecorder

	idleTimeout time.Duration
}

var _ rest.Connecter = &ExecREST{}

func (r *ExecREST) New() runtime.Object { return &janus.AccessRequestExecOptions{} }

func (r *ExecREST) Destroy() {}

// ConnectMethods are GET (websocket upgrades) and POST (SPDY), as for pods/exec.
func (r *ExecREST) ConnectMethods() []string { return []string{http.MethodGet, http.MethodPost} }

func (r *ExecREST) NewConnectOptions() (runtime.Object, bool, string) {
	return &janus.AccessRequestExecOptions{}, false, ""
}

func (r *ExecREST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	o, ok := opts.(*janus.AccessRequestExecOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	ar, err := streamGate(ctx, r.store, name, o.Namespace, o.Pod, "exec")
	if err != nil {
		return nil, err
	}
	if len(o.Command) == 0 {
		return nil, apierrors.NewInvalid(janus.Kind("AccessRequestExecOptions"), name, field.ErrorList{field.Required(field.NewPath("command"), "the command to run")})
	}
	// The query the agent sees is rebuilt from the decoded options, never
	// copied from the client, so nothing smuggled into it reaches the target.
	query := url.Values{}
	if o.Container != "" {
		query.Set("container", o.Container)
	}
	for _, c := range o.Command {
		query.Add("command", c)
	}
	for param, on := range map[string]bool{"stdin": o.Stdin, "stdout": o.Stdout, "stderr": o.Stderr, "tty": o.TTY} {
		if on {
			query.Set(param, "true")
		}
	}
	path := tunnel.StreamPath(tunnel.PathExec, name, o.Namespace, o.Pod)
	location, transport, err := locate(ctx, r.streams, ar, path, query)
	if err != nil {
		return nil, err
	}
	proxied := proxyHandler(location, transport, true, responder)
	u, _ := genericapirequest.UserFrom(ctx)
	ws := &websocketRelay{
		ctx:       context.WithoutCancel(ctx),
		store:     r.store,
		sessions:  sessionRecorder{store: r.status},
		recorder:  r.recorder,
		location:  location,
		transport: transport,
		request:   name,
		ref:       events.Ref(ar),
		session: janus.Session{
			ID: newSessionID(), User: u.GetName(), Namespace: o.Namespace, Pod: o.Pod, Container: o.Container,
			Command: o.Command, StartedAt: metav1.Now(),
		},
		noticeChannel: noticeChannel(o),
		idleTimeout:   r.idleTimeout,
		clock:         clock.RealClock{},
	}
	// Websocket sessions (kubectl ≥ 1.30, client-go's websocket executor)
	// are relayed message by message; SPDY ones byte by byte.
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if websocket.IsWebSocketUpgrade(req) {
			ws.ServeHTTP(w, req)
			return
		}
		proxied.ServeHTTP(w, req)
	}), nil
}

// noticeChannel is where the user reads Janus's own lines: stderr, or
// stdout in a terminal session (kubectl exec -t asks for no stderr).
func noticeChannel(o *janus.AccessRequestExecOptions) byte {
	switch {
	case o.Stderr:
		return channelStderr
	case o.Stdout:
		return channelStdout
	}
	return 0
}

// locate finds the agent's stream endpoint for ar; an agent that is not
// connected is a 503 the user can retry.
func locate(ctx context.Context, streams StreamLocator, ar *janus.AccessRequest, path string, query url.Values) (*url.URL, *http.Transport, error) {
	location, transport, err := streams.Locate(ar.Spec.Cluster, path, query)
	if errors.Is(err, tunnel.ErrNotConnected) {
		return nil, nil, apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s is not connected", ar.Spec.Cluster))
	}
	if err != nil {
		return nil, nil, err
	}
	u, _ := genericapirequest.UserFrom(ctx)
	klog.InfoS("Relaying stream", "request", ar.Name, "user", u.GetName(), "path", path)
	return location, transport, nil
}

// proxyHandler relays a stream byte by byte (SPDY exec, logs).
func proxyHandler(location *url.URL, transport *http.Transport, upgrade bool, responder rest.Responder) http.Handler {
	handler := proxy.NewUpgradeAwareHandler(location, transport, false, upgrade, proxy.NewErrorResponder(responder))
	handler.UseLocationHost = true
	return handler
}

// LogREST relays pods/log through the agent of the request's cluster.
type LogREST struct {
	store   *genericregistry.Store
	streams StreamLocator
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
	ar, err := streamGate(ctx, r.store, name, o.Namespace, o.Pod, "log")
	if err != nil {
		return nil, err
	}
	query := url.Values{}
	if o.Container != "" {
		query.Set("container", o.Container)
	}
	for param, on := range map[string]bool{"follow": o.Follow, "previous": o.Previous, "timestamps": o.Timestamps} {
		if on {
			query.Set(param, "true")
		}
	}
	for param, v := range map[string]*int64{"sinceSeconds": o.SinceSeconds, "tailLines": o.TailLines, "limitBytes": o.LimitBytes} {
		if v != nil {
			query.Set(param, strconv.FormatInt(*v, 10))
		}
	}
	location, transport, err := locate(ctx, r.streams, ar, tunnel.StreamPath(tunnel.PathLog, name, o.Namespace, o.Pod), query)
	if err != nil {
		return nil, err
	}
	return proxyHandler(location, transport, false, responder), nil
}
