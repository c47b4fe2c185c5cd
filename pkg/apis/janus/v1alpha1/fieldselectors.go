package v1alpha1

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// AccessRequest field labels usable in field selectors.
const (
	FieldCluster           = "spec.cluster"
	FieldRequesterUsername = "spec.requester.username"
	FieldPhase             = "status.phase"
)

// Session field labels usable in field selectors (and status.phase).
const (
	FieldSessionRequest  = "spec.request"
	FieldSessionUsername = "spec.user.username"
)

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	if err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("AccessRequest"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", FieldCluster, FieldRequesterUsername, FieldPhase:
				return label, value, nil
			}
			return "", "", fmt.Errorf("field label %q is not supported for AccessRequest", label)
		}); err != nil {
		return fmt.Errorf("registering AccessRequest field labels: %w", err)
	}
	if err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind("Session"),
		func(label, value string) (string, string, error) {
			switch label {
			case "metadata.name", FieldCluster, FieldSessionRequest, FieldSessionUsername, FieldPhase:
				return label, value, nil
			}
			return "", "", fmt.Errorf("field label %q is not supported for Session", label)
		}); err != nil {
		return fmt.Errorf("registering Session field labels: %w", err)
	}
	return nil
}
