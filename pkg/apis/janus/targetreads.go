package janus

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestPodsOptions are the query parameters of accessrequests/pods.
type AccessRequestPodsOptions struct {
	metav1.TypeMeta

	// namespace whose pods are listed; must be one of the request's
	// namespaces.
	Namespace string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestEventsOptions are the query parameters of accessrequests/events.
type AccessRequestEventsOptions struct {
	metav1.TypeMeta

	// namespace whose Events are listed; must be one of the request's
	// namespaces.
	Namespace string
	// pod narrows the Events to those about this pod.
	Pod string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestPodList is what accessrequests/pods answers: the pods of one
// granted namespace, as the request's own ServiceAccount sees them.
type AccessRequestPodList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// truncated is true when the namespace holds more pods than were read.
	Truncated bool
	// items are the pods, by name.
	Items []AccessRequestPod
}

// AccessRequestPod is one pod, summarised as kubectl get pods shows it.
type AccessRequestPod struct {
	// name of the pod.
	Name string
	// namespace of the pod.
	Namespace string
	// phase is the pod's status.phase.
	Phase string
	// status is the one word kubectl get pods shows (Running,
	// CrashLoopBackOff, Terminating, Completed, ...).
	Status string
	// ready is "ready/total" containers, such as "1/1".
	Ready string
	// restarts is the sum of the containers' restart counts.
	Restarts int32
	// node the pod runs on.
	Node string
	// createdAt is the pod's creationTimestamp.
	CreatedAt metav1.Time
	// containers of the pod, init containers excluded.
	Containers []AccessRequestPodContainer
}

// AccessRequestPodContainer is one container of a pod.
type AccessRequestPodContainer struct {
	// name of the container.
	Name string
	// image of the container.
	Image string
	// ready is the container's readiness.
	Ready bool
	// restartCount is how often the container restarted.
	RestartCount int32
	// state is Running, Waiting or Terminated, with the reason when there
	// is one (Waiting: CrashLoopBackOff).
	State string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestEventList is what accessrequests/events answers: the Events
// of one granted namespace or pod, newest first.
type AccessRequestEventList struct {
	metav1.TypeMeta
	metav1.ListMeta

	// truncated is true when there were more Events than were returned.
	Truncated bool
	// items are the Events, newest first.
	Items []AccessRequestEvent
}

// AccessRequestEvent is one Event, as kubectl events shows it.
type AccessRequestEvent struct {
	// type is Normal or Warning.
	Type string
	// reason is the Event's short, machine-readable reason.
	Reason string
	// message is the Event's human-readable description.
	Message string
	// involvedObject is what the Event is about.
	InvolvedObject AccessRequestEventObject
	// count is how often the Event occurred.
	Count int32
	// firstTimestamp is when the Event first occurred.
	FirstTimestamp metav1.Time
	// lastTimestamp is when the Event last occurred.
	LastTimestamp metav1.Time
}

// AccessRequestEventObject names the object an Event is about.
type AccessRequestEventObject struct {
	// kind of the object, such as Pod.
	Kind string
	// name of the object.
	Name string
}
