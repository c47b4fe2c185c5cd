package tunnel

import (
	"net/url"
	"time"
)

// Agent API paths of the reads a request's requester makes through the
// agent: GET, answered with JSON, read in the target cluster with the
// request's own token, carried over the tunnel like the grant calls (they
// are small and bounded, unlike exec and log streams).
const (
	// PathPods prefixes /v1/pods/<request>/<namespace>: the pods of a
	// namespace, as a PodList.
	PathPods = "/v1/pods/"
	// PathEvents prefixes /v1/events/<request>/<namespace>: the Events of a
	// namespace, newest first, as an EventList. The query parameter
	// QueryPod narrows them to one pod.
	PathEvents = "/v1/events/"
	// QueryPod names the pod of an events read.
	QueryPod = "pod"
)

// Bounds of the reads: the agent reads at most this much from the target,
// so an answer stays small whatever the namespace holds.
const (
	// MaxPods is the most pods a pods read returns.
	MaxPods = 500
	// MaxEvents is the most Events an events read returns, the newest.
	MaxEvents = 200
	// MaxEventsRead is the most Events the agent reads from the target to
	// find the newest MaxEvents among them.
	MaxEventsRead = 1000
	// ReadTimeout bounds a read, from janus-apiserver's call to the
	// agent's answer.
	ReadTimeout = 10 * time.Second
)

// ReadPath is the agent path of a pods or events read.
func ReadPath(prefix, request, namespace string) string {
	return prefix + url.PathEscape(request) + "/" + url.PathEscape(namespace)
}

// PodList is the answer of a pods read. It is the wire form of
// v1alpha1.AccessRequestPodList (the same fields under the same names),
// declared here so that the agent does not link the API types.
type PodList struct {
	// Truncated is true when the namespace holds more than MaxPods pods.
	Truncated bool  `json:"truncated,omitempty"`
	Items     []Pod `json:"items"`
}

// Pod is one pod, summarised as kubectl get pods shows it.
type Pod struct {
	Name       string         `json:"name"`
	Namespace  string         `json:"namespace"`
	Phase      string         `json:"phase,omitempty"`
	Status     string         `json:"status,omitempty"`
	Ready      string         `json:"ready,omitempty"`
	Restarts   int32          `json:"restarts,omitempty"`
	Node       string         `json:"node,omitempty"`
	CreatedAt  time.Time      `json:"createdAt"`
	Containers []PodContainer `json:"containers,omitempty"`
}

// PodContainer is one container of a pod.
type PodContainer struct {
	Name         string `json:"name"`
	Image        string `json:"image,omitempty"`
	Ready        bool   `json:"ready,omitempty"`
	RestartCount int32  `json:"restartCount,omitempty"`
	State        string `json:"state,omitempty"`
}

// EventList is the answer of an events read, the wire form of
// v1alpha1.AccessRequestEventList.
type EventList struct {
	// Truncated is true when more Events matched than were returned.
	Truncated bool    `json:"truncated,omitempty"`
	Items     []Event `json:"items"`
}

// Event is one Event, as kubectl events shows it.
type Event struct {
	Type           string      `json:"type,omitempty"`
	Reason         string      `json:"reason,omitempty"`
	Message        string      `json:"message,omitempty"`
	InvolvedObject EventObject `json:"involvedObject"`
	Count          int32       `json:"count,omitempty"`
	FirstTimestamp time.Time   `json:"firstTimestamp"`
	LastTimestamp  time.Time   `json:"lastTimestamp"`
}

// EventObject names the object an Event is about.
type EventObject struct {
	Kind string `json:"kind,omitempty"`
	Name string `json:"name"`
}
