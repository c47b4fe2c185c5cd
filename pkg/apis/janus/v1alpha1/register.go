package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group Janus serves.
const GroupName = "janus.infroware.io"

// SchemeGroupVersion is the served group version.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

// Resource takes an unqualified resource and returns a group-qualified GroupResource.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

var (
	// localSchemeBuilder is extended by the generated conversion and
	// defaulting functions in their init().
	SchemeBuilder      runtime.SchemeBuilder
	localSchemeBuilder = &SchemeBuilder
	AddToScheme        = localSchemeBuilder.AddToScheme
)

func init() {
	localSchemeBuilder.Register(addKnownTypes, addDefaultingFuncs, addFieldLabelConversionFuncs)
}

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
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
