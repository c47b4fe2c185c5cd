package events

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// Component is the source of Janus's events.
const Component = "janus-apiserver"

// NewRecorder returns a recorder writing to kube (when not nil) and to the
// log, and a function that stops it.
func NewRecorder(kube kubernetes.Interface) (record.EventRecorder, func()) {
	broadcaster := record.NewBroadcaster()
	broadcaster.StartStructuredLogging(klog.Level(2))
	if kube != nil {
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: kube.CoreV1().Events("")})
	}
	return broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: Component}), broadcaster.Shutdown
}

// Ref is the object reference of an AccessRequest, built by hand so that
// internal and versioned objects alike point at the served version.
func Ref(obj metav1.Object) runtime.Object {
	return RefFor(obj.GetName(), obj.GetUID(), obj.GetResourceVersion())
}

// RefFor is Ref from its parts.
func RefFor(name string, uid types.UID, resourceVersion string) *corev1.ObjectReference {
	return &corev1.ObjectReference{
		APIVersion:      v1alpha1.SchemeGroupVersion.String(),
		Kind:            "AccessRequest",
		Name:            name,
		UID:             uid,
		ResourceVersion: resourceVersion,
		// Cluster-scoped: no namespace in the reference (kubectl describe
		// searches for exactly that); the recorder files the Event itself
		// in the default namespace.
	}
}
