package kubectljanus

import (
	"fmt"
	"strings"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// phases are every phase of an AccessRequest, in lifecycle order.
var phases = []v1alpha1.AccessRequestPhase{
	v1alpha1.AccessRequestPending,
	v1alpha1.AccessRequestApproved,
	v1alpha1.AccessRequestActive,
	v1alpha1.AccessRequestExpired,
	v1alpha1.AccessRequestDenied,
	v1alpha1.AccessRequestWithdrawn,
	v1alpha1.AccessRequestRevoked,
	v1alpha1.AccessRequestFailed,
}

// isFinal tells whether a request in phase p can never change phase again.
func isFinal(p v1alpha1.AccessRequestPhase) bool {
	switch p {
	case v1alpha1.AccessRequestExpired, v1alpha1.AccessRequestDenied, v1alpha1.AccessRequestWithdrawn,
		v1alpha1.AccessRequestRevoked, v1alpha1.AccessRequestFailed:
		return true
	}
	return false
}

// parsePhase accepts a phase name in any case.
func parsePhase(s string) (v1alpha1.AccessRequestPhase, error) {
	for _, p := range phases {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	names := make([]string, len(phases))
	for i, p := range phases {
		names[i] = string(p)
	}
	return "", fmt.Errorf("unknown phase %q; one of %s", s, strings.Join(names, ", "))
}

// phaseLine is how a request's phase reads in progress output.
func phaseLine(ar *v1alpha1.AccessRequest) string {
	phase := string(ar.Status.Phase)
	if phase == "" {
		phase = "<no phase yet>"
	}
	if ar.Status.Message == "" {
		return fmt.Sprintf("%s: %s", ar.Name, phase)
	}
	return fmt.Sprintf("%s: %s (%s)", ar.Name, phase, oneLine(ar.Status.Message))
}
