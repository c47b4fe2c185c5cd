package kubectljanus

import (
	"fmt"
	"strings"

	"github.com/infroware/janus/pkg/apis/janus"
	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// phases are every phase of an AccessRequest, in lifecycle order, as the
// server's lifecycle defines them.
var phases = func() []v1alpha1.AccessRequestPhase {
	var ps []v1alpha1.AccessRequestPhase
	for _, p := range validation.Phases() {
		ps = append(ps, v1alpha1.AccessRequestPhase(p))
	}
	return ps
}()

// isFinal tells whether a request in phase p can never change phase again.
func isFinal(p v1alpha1.AccessRequestPhase) bool {
	return validation.IsTerminal(janus.AccessRequestPhase(p))
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
