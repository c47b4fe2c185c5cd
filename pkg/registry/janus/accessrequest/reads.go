package accessrequest

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/tunnel"
	"github.com/infroware/janus/pkg/tunnelserver"
)

// AgentGetter finds the client of a cluster's agent, waiting briefly for
// one a peer replica may still be announcing: tunnelserver.Server.
type AgentGetter interface {
	AwaitAgent(ctx context.Context, cluster string) (*tunnelserver.AgentClient, error)
}

// PodsREST answers accessrequests/pods: the pods of a granted namespace,
// read by the request's cluster's agent with the request's own token.
type PodsREST struct {
	store  *genericregistry.Store
	agents AgentGetter
}

var _ rest.GetterWithOptions = &PodsREST{}

func (r *PodsREST) New() runtime.Object { return &janus.AccessRequestPodList{} }

func (r *PodsREST) Destroy() {}

func (r *PodsREST) NewGetOptions() (runtime.Object, bool, string) {
	return &janus.AccessRequestPodsOptions{}, false, ""
}

func (r *PodsREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	o, ok := opts.(*janus.AccessRequestPodsOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	ar, err := streamGate(ctx, r.store, name, o.Namespace, "pods", validation.ValidateAccessRequestPodsOptions(o), "AccessRequestPodsOptions")
	if err != nil {
		return nil, err
	}
	var pods tunnel.PodList
	err = readThroughAgent(ctx, r.agents, ar, "pods", func(ctx context.Context, agent *tunnelserver.AgentClient) (err error) {
		pods, err = agent.Pods(ctx, name, o.Namespace)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &janus.AccessRequestPodList{Truncated: pods.Truncated, Items: make([]janus.AccessRequestPod, 0, len(pods.Items))}
	for _, p := range pods.Items {
		pod := janus.AccessRequestPod{
			Name: p.Name, Namespace: p.Namespace, Phase: p.Phase, Status: p.Status, Ready: p.Ready,
			Restarts: p.Restarts, Node: p.Node, CreatedAt: metav1.NewTime(p.CreatedAt),
		}
		for _, c := range p.Containers {
			pod.Containers = append(pod.Containers, janus.AccessRequestPodContainer{
				Name: c.Name, Image: c.Image, Ready: c.Ready, RestartCount: c.RestartCount, State: c.State,
			})
		}
		out.Items = append(out.Items, pod)
	}
	return out, nil
}

// EventsREST answers accessrequests/events: the Events of a granted
// namespace, or of one pod in it, newest first, read like PodsREST.
type EventsREST struct {
	store  *genericregistry.Store
	agents AgentGetter
}

var _ rest.GetterWithOptions = &EventsREST{}

func (r *EventsREST) New() runtime.Object { return &janus.AccessRequestEventList{} }

func (r *EventsREST) Destroy() {}

func (r *EventsREST) NewGetOptions() (runtime.Object, bool, string) {
	return &janus.AccessRequestEventsOptions{}, false, ""
}

func (r *EventsREST) Get(ctx context.Context, name string, opts runtime.Object) (runtime.Object, error) {
	o, ok := opts.(*janus.AccessRequestEventsOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid options %T", opts))
	}
	ar, err := streamGate(ctx, r.store, name, o.Namespace, "events", validation.ValidateAccessRequestEventsOptions(o), "AccessRequestEventsOptions")
	if err != nil {
		return nil, err
	}
	var events tunnel.EventList
	err = readThroughAgent(ctx, r.agents, ar, "events", func(ctx context.Context, agent *tunnelserver.AgentClient) (err error) {
		events, err = agent.Events(ctx, name, o.Namespace, o.Pod)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &janus.AccessRequestEventList{Truncated: events.Truncated, Items: make([]janus.AccessRequestEvent, 0, len(events.Items))}
	for _, e := range events.Items {
		out.Items = append(out.Items, janus.AccessRequestEvent{
			Type: e.Type, Reason: e.Reason, Message: e.Message,
			InvolvedObject: janus.AccessRequestEventObject{Kind: e.InvolvedObject.Kind, Name: e.InvolvedObject.Name},
			Count:          e.Count, FirstTimestamp: metav1.NewTime(e.FirstTimestamp), LastTimestamp: metav1.NewTime(e.LastTimestamp),
		})
	}
	return out, nil
}

// readThroughAgent runs read against the agent of ar's cluster within
// tunnel.ReadTimeout and turns what goes wrong into an API error: an
// agent that is away is a 503 and one that is slow a 504, both worth a
// retry; a refusal of the agent or of the target's RBAC is a 403 with
// their words.
func readThroughAgent(ctx context.Context, agents AgentGetter, ar *janus.AccessRequest, what string, read func(context.Context, *tunnelserver.AgentClient) error) error {
	cluster := ar.Spec.Cluster
	agent, err := agents.AwaitAgent(ctx, cluster)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s is not connected; try again once it is", cluster))
	}
	ctx, cancel := context.WithTimeout(ctx, tunnel.ReadTimeout)
	defer cancel()
	err = read(ctx, agent)
	var agentErr *tunnelserver.AgentError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &agentErr):
		return agentReadError(ar.Name, cluster, what, agentErr)
	case errors.Is(err, context.DeadlineExceeded):
		return apierrors.NewTimeoutError(fmt.Sprintf("the agent of cluster %s did not answer within %s", cluster, tunnel.ReadTimeout), 0)
	case errors.Is(err, tunnelserver.ErrNotConnected):
		return apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s is not connected; try again once it is", cluster))
	}
	return apierrors.NewServiceUnavailable(fmt.Sprintf("reading %s through the agent of cluster %s: %v", what, cluster, err))
}

func agentReadError(name, cluster, what string, e *tunnelserver.AgentError) error {
	switch e.StatusCode {
	case http.StatusForbidden, http.StatusUnauthorized:
		return apierrors.NewForbidden(janus.Resource("accessrequests/"+what), name, errors.New(e.Message))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(e.Message)
	case http.StatusTooManyRequests:
		return apierrors.NewTooManyRequests(e.Message, 1)
	case http.StatusGatewayTimeout:
		return apierrors.NewTimeoutError(fmt.Sprintf("the agent of cluster %s: %s", cluster, e.Message), 0)
	}
	// A 404 is an agent too old to serve the read; a 5xx a target the
	// agent could not read. Either may pass; neither is the request's fault.
	return apierrors.NewServiceUnavailable(fmt.Sprintf("the agent of cluster %s: %s", cluster, e.Message))
}
