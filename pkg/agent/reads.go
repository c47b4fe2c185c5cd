package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/tunnel"
)

// maxTargetListBytes bounds what the agent reads of one list from the
// target: 500 pods with large specs stay well below it.
const maxTargetListBytes = 32 << 20

// pods answers a pods read: the namespace's pods, listed with the
// request's own token (so the target's RBAC decides), summarised.
func (s *StreamRelay) pods(w http.ResponseWriter, r *http.Request) {
	t, ok := s.resolveRead(w, r)
	if !ok {
		return
	}
	var list corev1.PodList
	query := url.Values{"limit": {strconv.Itoa(tunnel.MaxPods)}}
	if !s.readTarget(w, r, t, "pods", query, &list) {
		return
	}
	out := tunnel.PodList{Truncated: list.Continue != "", Items: make([]tunnel.Pod, 0, len(list.Items))}
	for i := range list.Items {
		out.Items = append(out.Items, summarisePod(&list.Items[i]))
	}
	slices.SortFunc(out.Items, func(a, b tunnel.Pod) int { return cmp.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, out)
}

// events answers an events read: the namespace's Events (or one pod's),
// newest first, at most tunnel.MaxEvents of them.
func (s *StreamRelay) events(w http.ResponseWriter, r *http.Request) {
	t, ok := s.resolveRead(w, r)
	if !ok {
		return
	}
	query := url.Values{"limit": {strconv.Itoa(tunnel.MaxEventsRead)}}
	if pod := r.URL.Query().Get(tunnel.QueryPod); pod != "" {
		if msgs := validation.IsDNS1123Subdomain(pod); len(msgs) > 0 {
			writeError(w, http.StatusBadRequest, tunnel.Error{Message: fmt.Sprintf("pod %q: %s", pod, msgs[0])})
			return
		}
		query.Set("fieldSelector", fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": pod}.AsSelector().String())
	}
	var list corev1.EventList
	if !s.readTarget(w, r, t, "events", query, &list) {
		return
	}
	items := make([]tunnel.Event, 0, len(list.Items))
	for i := range list.Items {
		items = append(items, summariseEvent(&list.Items[i]))
	}
	slices.SortStableFunc(items, func(a, b tunnel.Event) int { return b.LastTimestamp.Compare(a.LastTimestamp) })
	out := tunnel.EventList{Truncated: list.Continue != "" || len(items) > tunnel.MaxEvents, Items: items[:min(len(items), tunnel.MaxEvents)]}
	writeJSON(w, http.StatusOK, out)
}

// resolveRead is resolve for a read, whose namespace must be a name: it is
// spliced into the target's URL path.
func (s *StreamRelay) resolveRead(w http.ResponseWriter, r *http.Request) (streamTarget, bool) {
	if msgs := validation.IsDNS1123Label(r.PathValue("namespace")); len(msgs) > 0 {
		writeError(w, http.StatusBadRequest, tunnel.Error{Message: fmt.Sprintf("namespace %q: %s", r.PathValue("namespace"), msgs[0])})
		return streamTarget{}, false
	}
	return s.resolve(w, r)
}

// readTarget lists resource in the target's namespace with the request's
// token into out, or answers with the target's refusal (its 403 or 404,
// with its message) or a 502/504 of its own.
func (s *StreamRelay) readTarget(w http.ResponseWriter, r *http.Request, t streamTarget, resource string, query url.Values, out any) bool {
	ctx, cancel := context.WithTimeout(r.Context(), tunnel.ReadTimeout)
	defer cancel()
	u := *s.target
	u.Path = fmt.Sprintf("/api/v1/namespaces/%s/%s", url.PathEscape(t.namespace), resource)
	u.RawQuery = query.Encode()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "janus-agent")
	klog.V(2).InfoS("Read", "request", t.request, "resource", resource, "namespace", t.namespace, "query", u.RawQuery)
	resp, err := s.client.Do(req)
	if err != nil {
		status := http.StatusBadGateway
		if ctx.Err() != nil {
			status = http.StatusGatewayTimeout
		}
		writeError(w, status, tunnel.Error{Message: fmt.Sprintf("reading %s in namespace %s from the target cluster: %v", resource, t.namespace, err)})
		return false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTargetListBytes+1))
	if err != nil {
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: fmt.Sprintf("reading the target cluster's %s: %v", resource, err)})
		return false
	}
	if resp.StatusCode != http.StatusOK {
		writeError(w, resp.StatusCode, tunnel.Error{Message: targetRefusal(resp, body, resource, t.namespace)})
		return false
	}
	if len(body) > maxTargetListBytes {
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: fmt.Sprintf("the target cluster's %s in namespace %s are larger than %d bytes", resource, t.namespace, maxTargetListBytes)})
		return false
	}
	if err := json.Unmarshal(body, out); err != nil {
		writeError(w, http.StatusBadGateway, tunnel.Error{Message: fmt.Sprintf("decoding the target cluster's %s: %v", resource, err)})
		return false
	}
	return true
}

// targetRefusal is the message of the target's Status, or its HTTP status.
func targetRefusal(resp *http.Response, body []byte, resource, namespace string) string {
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		var status metav1.Status
		if json.Unmarshal(body, &status) == nil && status.Message != "" {
			return "the target cluster refused: " + status.Message
		}
	}
	return fmt.Sprintf("the target cluster answered %s to listing %s in namespace %s", resp.Status, resource, namespace)
}

// summarisePod is what kubectl get pods shows of p, and its containers.
func summarisePod(p *corev1.Pod) tunnel.Pod {
	out := tunnel.Pod{
		Name: p.Name, Namespace: p.Namespace, Phase: string(p.Status.Phase), Node: p.Spec.NodeName,
		CreatedAt: p.CreationTimestamp.Time,
	}
	statuses := map[string]corev1.ContainerStatus{}
	for _, cs := range p.Status.ContainerStatuses {
		statuses[cs.Name] = cs
	}
	ready := 0
	for _, c := range p.Spec.Containers {
		cs := statuses[c.Name]
		if cs.Ready {
			ready++
		}
		out.Restarts += cs.RestartCount
		out.Containers = append(out.Containers, tunnel.PodContainer{
			Name: c.Name, Image: c.Image, Ready: cs.Ready, RestartCount: cs.RestartCount, State: containerState(cs.State),
		})
	}
	out.Ready = fmt.Sprintf("%d/%d", ready, len(p.Spec.Containers))
	out.Status = podStatus(p)
	return out
}

func containerState(s corev1.ContainerState) string {
	switch {
	case s.Running != nil:
		return "Running"
	case s.Waiting != nil && s.Waiting.Reason != "":
		return "Waiting: " + s.Waiting.Reason
	case s.Waiting != nil:
		return "Waiting"
	case s.Terminated != nil && s.Terminated.Reason != "":
		return "Terminated: " + s.Terminated.Reason
	case s.Terminated != nil:
		return fmt.Sprintf("Terminated: exit code %d", s.Terminated.ExitCode)
	}
	return ""
}

// podStatus is the STATUS word of kubectl get pods, after kubectl's
// printPod: the pod's reason, else the first init container or container
// that is not running well, else its phase; Terminating once deleted.
func podStatus(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	initializing := false
initContainers:
	for i, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case isSidecar(p, cs.Name) && cs.Started != nil && *cs.Started:
			// A sidecar (an init container that restarts always) that has
			// started is done initializing.
			continue
		case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
			reason = "Init:" + cs.State.Terminated.Reason
		case cs.State.Terminated != nil:
			reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break initContainers
	}
	if !initializing {
		running := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
			}
		}
		if reason == "Completed" && running {
			reason = "NotReady"
			if podReady(p) {
				reason = "Running"
			}
		}
	}
	switch {
	case p.DeletionTimestamp != nil && p.Status.Reason == "NodeLost":
		return "Unknown"
	case p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed:
		return "Terminating"
	}
	return reason
}

func isSidecar(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// summariseEvent is what kubectl events shows of e. Events written
// through events.k8s.io carry their times in eventTime and series instead
// of firstTimestamp, lastTimestamp and count.
func summariseEvent(e *corev1.Event) tunnel.Event {
	out := tunnel.Event{
		Type: e.Type, Reason: e.Reason, Message: e.Message,
		InvolvedObject: tunnel.EventObject{Kind: e.InvolvedObject.Kind, Name: e.InvolvedObject.Name},
		Count:          e.Count,
		FirstTimestamp: e.FirstTimestamp.Time,
		LastTimestamp:  e.LastTimestamp.Time,
	}
	if out.FirstTimestamp.IsZero() {
		out.FirstTimestamp = cmp.Or(e.EventTime.Time, e.CreationTimestamp.Time)
	}
	if e.Series != nil {
		out.Count = e.Series.Count
		out.LastTimestamp = e.Series.LastObservedTime.Time
	}
	if out.LastTimestamp.IsZero() {
		out.LastTimestamp = out.FirstTimestamp
	}
	if out.Count == 0 {
		out.Count = 1
	}
	return out
}
