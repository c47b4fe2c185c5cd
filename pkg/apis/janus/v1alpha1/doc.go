// Package v1alpha1 is the served version of the janus.infroware.io API: the
// types clients read and write, their defaults and their conversions to the
// internal types. Behaviour belongs in the registry, not here.
//
// +k8s:deepcopy-gen=package
// +k8s:conversion-gen=github.com/infroware/janus/pkg/apis/janus
// +k8s:defaulter-gen=TypeMeta
// +k8s:openapi-gen=true
// +k8s:openapi-model-package=io.infroware.janus.pkg.apis.janus.v1alpha1
// +groupName=janus.infroware.io
package v1alpha1
