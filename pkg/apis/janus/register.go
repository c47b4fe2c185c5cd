package janus

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group Janus serves.
const GroupName = "janus.infroware.io"

// SchemeGroupVersion is the internal version used to register the hub types.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: runtime.APIVersionInternal}

// Kind takes an unqualified kind and returns a group-qualified GroupKind.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	AddToScheme   = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&AccessRequest{},
		&AccessRequestList{},
		&Cluster{},
		&ClusterList{},
		&Approval{},
		&Denial{},
		&Revocation{},
		&Withdrawal{},
		&Extension{},
		&AccessRequestExecOptions{},
		&AccessRequestLogOptions{},
		&AccessRequestPodsOptions{},
		&AccessRequestEventsOptions{},
		&AccessRequestPodList{},
		&AccessRequestEventList{},
		&Session{},
		&SessionList{},
		&SessionTermination{},
	)
	return nil
}
