package validation

import (
	"fmt"
	"time"
	"unicode/utf8"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

const (
	// MaxReasonLength bounds every reason a user types.
	MaxReasonLength = 1024
	// MaxNamespaces bounds the namespaces of one request.
	MaxNamespaces = 20
)

// ValidateAccessRequest checks a new AccessRequest on its own, without the
// policy of its cluster. Names are DNS labels (at most 63 characters): the
// agent labels what it creates in the target cluster with the name.
func ValidateAccessRequest(ar *janus.AccessRequest) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&ar.ObjectMeta, false, apimachineryvalidation.NameIsDNSLabel, field.NewPath("metadata"))
	allErrs = append(allErrs, validateOwnershipOnCreate(&ar.ObjectMeta, field.NewPath("metadata"))...)
	allErrs = append(allErrs, validateAccessRequestSpec(&ar.Spec, field.NewPath("spec"))...)
	return allErrs
}

func validateAccessRequestSpec(spec *janus.AccessRequestSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Cluster == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("cluster"), "the name of a Cluster"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(spec.Cluster) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("cluster"), spec.Cluster, msg))
		}
	}
	allErrs = append(allErrs, validateNamespaces(spec.Namespaces, fldPath.Child("namespaces"))...)
	if spec.Duration.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("duration"), spec.Duration.Duration.String(), "must be positive"))
	}
	allErrs = append(allErrs, validateReason(spec.Reason, true, fldPath.Child("reason"))...)
	return allErrs
}

func validateNamespaces(namespaces []string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case len(namespaces) == 0:
		return append(allErrs, field.Required(fldPath, "at least one namespace"))
	case len(namespaces) > MaxNamespaces:
		allErrs = append(allErrs, field.TooMany(fldPath, len(namespaces), MaxNamespaces))
	}
	seen := sets.New[string]()
	for i, ns := range namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), ns, msg))
		}
		if seen.Has(ns) {
			allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), ns))
		}
		seen.Insert(ns)
	}
	return allErrs
}

func validateReason(reason string, required bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if required && len(reason) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, "say why"))
	}
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		allErrs = append(allErrs, field.TooLongCharacters(fldPath, reason, MaxReasonLength))
	}
	return append(allErrs, validateTerminalText(reason, fldPath)...)
}

// ValidateAccessRequestPolicy checks a request's spec against the policy of
// its cluster: excluded namespaces and duration bounds.
func ValidateAccessRequestPolicy(spec *janus.AccessRequestSpec, policy Policy) field.ErrorList {
	fldPath := field.NewPath("spec")
	var allErrs field.ErrorList
	for i, ns := range spec.Namespaces {
		if policy.ExcludedNamespaces.Has(ns) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("namespaces").Index(i),
				fmt.Sprintf("namespace %q is excluded from access requests to cluster %q", ns, spec.Cluster)))
		}
	}
	allErrs = append(allErrs, validateDurationBounds(spec.Duration.Duration, policy, fldPath.Child("duration"))...)
	return allErrs
}

func validateDurationBounds(d time.Duration, policy Policy, fldPath *field.Path) field.ErrorList {
	switch {
	case d < policy.MinDuration:
		return field.ErrorList{field.Invalid(fldPath, d.String(), fmt.Sprintf("must be at least %s", policy.MinDuration))}
	case d > policy.MaxDuration:
		return field.ErrorList{field.Invalid(fldPath, d.String(), fmt.Sprintf("must be at most %s", policy.MaxDuration))}
	}
	return nil
}

// ValidateAccessRequestUpdate allows changes to labels and annotations only:
// the spec of a request is what was approved and cannot change, and nobody
// else may own or finalize it.
func ValidateAccessRequestUpdate(newAR, oldAR *janus.AccessRequest) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newAR.ObjectMeta, &oldAR.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateOwnersUpdate(newAR, oldAR, field.NewPath("metadata"))...)
	allErrs = append(allErrs, validateFinalizersUpdate(newAR, oldAR, field.NewPath("metadata"))...)
	if !apiequality.Semantic.DeepEqual(newAR.Spec, oldAR.Spec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), "is immutable after creation"))
	}
	return allErrs
}

// phaseTransitions lists, for each phase, the phases a request may move to.
// Staying in the same phase is allowed for non-terminal phases (approvals
// accumulating, sessions recorded, extensions).
var phaseTransitions = map[janus.AccessRequestPhase]sets.Set[janus.AccessRequestPhase]{
	janus.AccessRequestPending:  sets.New(janus.AccessRequestPending, janus.AccessRequestApproved, janus.AccessRequestDenied, janus.AccessRequestWithdrawn),
	janus.AccessRequestApproved: sets.New(janus.AccessRequestApproved, janus.AccessRequestActive, janus.AccessRequestFailed, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn),
	janus.AccessRequestActive:   sets.New(janus.AccessRequestActive, janus.AccessRequestExpired, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn),
}

// IsTerminal reports whether a request in phase can never change phase again.
func IsTerminal(phase janus.AccessRequestPhase) bool {
	_, ok := phaseTransitions[phase]
	return !ok
}

// ValidateAccessRequestStatusUpdate checks a status change: the phase moves
// only along the lifecycle, and a finished request's status is frozen apart
// from recording the end of its sessions. The grant finalizer goes this
// way too, once the status says there is no grant left.
func ValidateAccessRequestStatusUpdate(newAR, oldAR *janus.AccessRequest) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newAR.ObjectMeta, &oldAR.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateFinalizersUpdate(newAR, oldAR, field.NewPath("metadata"))...)
	fldPath := field.NewPath("status")
	from, to := oldAR.Status.Phase, newAR.Status.Phase
	if next, ok := phaseTransitions[from]; ok {
		if !next.Has(to) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("phase"), to, fmt.Sprintf("a request cannot move from %s to %s", from, to)))
		}
	} else if from != to {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("phase"), to, fmt.Sprintf("the request is %s, which is final", from)))
	}
	if (to == janus.AccessRequestActive) && (newAR.Status.ActivatedAt == nil || newAR.Status.ExpiresAt == nil) {
		allErrs = append(allErrs, field.Required(fldPath.Child("expiresAt"), "an Active request has activatedAt and expiresAt"))
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(newAR.Status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}
