package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestPodsOptions are the query parameters of accessrequests/pods.
type AccessRequestPodsOptions struct {
	metav1.TypeMeta `json:",inline"`

	// namespace whose pods are listed; must be one of the request's
	// namespaces.
	Namespace string `json:"namespace"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestEventsOptions are the query parameters of accessrequests/events.
type AccessRequestEventsOptions struct {
	metav1.TypeMeta `json:",inline"`

	// namespace whose Events are listed; must be one of the request's
	// namespaces.
	Namespace string `json:"namespace"`
	// pod narrows the Events to those about this pod.
	// +optional
	Pod string `json:"pod,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestPodList is what accessrequests/pods answers: the pods of one
// granted namespace, as the request's own ServiceAccount sees them.
type AccessRequestPodList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// truncated is true when the namespace holds more pods than were read.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// items are the pods, by name.
	Items []AccessRequestPod `json:"items"`
}

// AccessRequestPod is one pod, summarised as kubectl get pods shows it.
type AccessRequestPod struct {
	// name of the pod.
	Name string `json:"name"`
	// namespace of the pod.
	Namespace string `json:"namespace"`
	// phase is the pod's status.phase.
	// +optional
	Phase string `json:"phase,omitempty"`
	// status is the one word kubectl get pods shows (Running,
	// CrashLoopBackOff, Terminating, Completed, ...).
	// +optional
	Status string `json:"status,omitempty"`
	// ready is "ready/total" containers, such as "1/1".
	// +optional
	Ready string `json:"ready,omitempty"`
	// restarts is the sum of the containers' restart counts.
	// +optional
	Restarts int32 `json:"restarts,omitempty"`
	// node the pod runs on.
	// +optional
	Node string `json:"node,omitempty"`
	// createdAt is the pod's creationTimestamp.
	// +optional
	CreatedAt metav1.Time `json:"createdAt,omitempty"`
	// containers of the pod, init containers excluded.
	// +optional
	// +listType=atomic
	Containers []AccessRequestPodContainer `json:"containers,omitempty"`
}

// AccessRequestPodContainer is one container of a pod.
type AccessRequestPodContainer struct {
	// name of the container.
	Name string `json:"name"`
	// image of the container.
	// +optional
	Image string `json:"image,omitempty"`
	// ready is the container's readiness.
	// +optional
	Ready bool `json:"ready,omitempty"`
	// restartCount is how often the container restarted.
	// +optional
	RestartCount int32 `json:"restartCount,omitempty"`
	// state is Running, Waiting or Terminated, with the reason when there
	// is one (Waiting: CrashLoopBackOff).
	// +optional
	State string `json:"state,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestEventList is what accessrequests/events answers: the Events
// of one granted namespace or pod, newest first.
type AccessRequestEventList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	// truncated is true when there were more Events than were returned.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// items are the Events, newest first.
	Items []AccessRequestEvent `json:"items"`
}

// AccessRequestEvent is one Event, as kubectl events shows it.
type AccessRequestEvent struct {
	// type is Normal or Warning.
	// +optional
	Type string `json:"type,omitempty"`
	// reason is the Event's short, machine-readable reason.
	// +optional
	Reason string `json:"reason,omitempty"`
	// message is the Event's human-readable description.
	// +optional
	Message string `json:"message,omitempty"`
	// involvedObject is what the Event is about.
	// +optional
	InvolvedObject AccessRequestEventObject `json:"involvedObject,omitempty"`
	// count is how often the Event occurred.
	// +optional
	Count int32 `json:"count,omitempty"`
	// firstTimestamp is when the Event first occurred.
	// +optional
	FirstTimestamp metav1.Time `json:"firstTimestamp,omitempty"`
	// lastTimestamp is when the Event last occurred.
	// +optional
	LastTimestamp metav1.Time `json:"lastTimestamp,omitempty"`
}

// AccessRequestEventObject names the object an Event is about.
type AccessRequestEventObject struct {
	// kind of the object, such as Pod.
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the object.
	Name string `json:"name"`
}
