package validation

import (
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// ValidateAccessRequestPodsOptions checks the query of accessrequests/pods.
func ValidateAccessRequestPodsOptions(o *janus.AccessRequestPodsOptions) field.ErrorList {
	return validateReadNamespace(o.Namespace)
}

// ValidateAccessRequestEventsOptions checks the query of
// accessrequests/events: the pod, when given, is a pod's name, since it
// ends up in the target's field selector.
func ValidateAccessRequestEventsOptions(o *janus.AccessRequestEventsOptions) field.ErrorList {
	allErrs := validateReadNamespace(o.Namespace)
	if o.Pod != "" {
		for _, msg := range validation.IsDNS1123Subdomain(o.Pod) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("pod"), o.Pod, msg))
		}
	}
	return allErrs
}

func validateReadNamespace(namespace string) field.ErrorList {
	if namespace == "" {
		return field.ErrorList{field.Required(field.NewPath("namespace"), "one of the request's namespaces")}
	}
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(namespace) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("namespace"), namespace, msg))
	}
	return allErrs
}
