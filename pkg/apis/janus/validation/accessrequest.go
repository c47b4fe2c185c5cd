package validation

import (
	"fmt"
	"slices"
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
// accumulating, sessions recorded, extensions). A deleted request that may
// hold a grant is Revoked, one that may not keeps its phase.
var phaseTransitions = map[janus.AccessRequestPhase]sets.Set[janus.AccessRequestPhase]{
	janus.AccessRequestPending:  sets.New(janus.AccessRequestPending, janus.AccessRequestApproved, janus.AccessRequestDenied, janus.AccessRequestWithdrawn),
	janus.AccessRequestApproved: sets.New(janus.AccessRequestApproved, janus.AccessRequestActive, janus.AccessRequestFailed, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn),
	janus.AccessRequestActive:   sets.New(janus.AccessRequestActive, janus.AccessRequestExpired, janus.AccessRequestRevoked, janus.AccessRequestWithdrawn),
}

// knownPhases are every phase of the lifecycle.
var knownPhases = []janus.AccessRequestPhase{
	janus.AccessRequestPending, janus.AccessRequestApproved, janus.AccessRequestActive, janus.AccessRequestExpired,
	janus.AccessRequestDenied, janus.AccessRequestWithdrawn, janus.AccessRequestRevoked, janus.AccessRequestFailed,
}

// Phases are every phase of the lifecycle, in lifecycle order.
func Phases() []janus.AccessRequestPhase { return slices.Clone(knownPhases) }

// IsTerminal reports whether a request in phase can never change phase again.
func IsTerminal(phase janus.AccessRequestPhase) bool {
	_, ok := phaseTransitions[phase]
	return !ok
}

// ValidateAccessRequestStatusUpdate checks a status change, whoever writes
// it, so that no status describes what the lifecycle cannot reach: the
// phase moves only along the lifecycle, an Approved or Active request has
// its quorum of distinct approvals, an Active one knows when it started and
// when it ends, and the quorum fixed at creation never changes. The grant
// finalizer goes this way too, once the status says there is no grant left.
func ValidateAccessRequestStatusUpdate(newAR, oldAR *janus.AccessRequest) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newAR.ObjectMeta, &oldAR.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateFinalizersUpdate(newAR, oldAR, field.NewPath("metadata"))...)
	fldPath := field.NewPath("status")
	allErrs = append(allErrs, validatePhaseTransition(oldAR.Status.Phase, newAR.Status.Phase, fldPath.Child("phase"))...)
	if newAR.Status.RequiredApprovals != oldAR.Status.RequiredApprovals {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("requiredApprovals"), "is fixed when the request is created"))
	}
	status := &newAR.Status
	switch status.Phase {
	case janus.AccessRequestApproved, janus.AccessRequestActive:
		// Requests from before requiredApprovals was recorded were approved
		// under their Cluster's policy of the time; they had one at least.
		required := max(int(status.RequiredApprovals), 1)
		if got := DistinctApprovers(status.Approvals); got < required {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("approvals"), got,
				fmt.Sprintf("an %s request has at least %d distinct approvals", status.Phase, required)))
		}
	}
	if status.Phase == janus.AccessRequestActive {
		if status.ActivatedAt == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("activatedAt"), "an Active request has activatedAt and expiresAt"))
		}
		switch {
		case status.ExpiresAt == nil:
			allErrs = append(allErrs, field.Required(fldPath.Child("expiresAt"), "an Active request has activatedAt and expiresAt"))
		case status.ActivatedAt != nil && !status.ExpiresAt.After(status.ActivatedAt.Time):
			allErrs = append(allErrs, field.Invalid(fldPath.Child("expiresAt"), status.ExpiresAt.UTC().Format(time.RFC3339), "must be after activatedAt"))
		}
	}
	allErrs = append(allErrs, metav1validation.ValidateConditions(newAR.Status.Conditions, fldPath.Child("conditions"))...)
	return allErrs
}

// validatePhaseTransition allows the moves of the lifecycle, and staying put.
func validatePhaseTransition(from, to janus.AccessRequestPhase, fldPath *field.Path) field.ErrorList {
	if !slices.Contains(knownPhases, to) {
		return field.ErrorList{field.NotSupported(fldPath, to, knownPhases)}
	}
	if from == to {
		return nil
	}
	next, ok := phaseTransitions[from]
	if !ok {
		return field.ErrorList{field.Invalid(fldPath, to, fmt.Sprintf("the request is %s, which is final", from))}
	}
	if !next.Has(to) {
		return field.ErrorList{field.Invalid(fldPath, to, fmt.Sprintf("a request cannot move from %s to %s", from, to))}
	}
	return nil
}

// DistinctApprovers counts the approvals of different people. Two
// approvals are one person's when they share the username or a UID: a UID
// that approves again under another name counts once, and so does a name.
func DistinctApprovers(approvals []janus.Decision) int {
	names, uids := sets.New[string](), sets.New[string]()
	n := 0
	for _, a := range approvals {
		seen := a.User == "" || names.Has(a.User) || (a.UID != "" && uids.Has(a.UID))
		names.Insert(a.User)
		if a.UID != "" {
			uids.Insert(a.UID)
		}
		if !seen {
			n++
		}
	}
	return n
}

// SameDecider reports whether a decision was taken by the user with this
// username or (non-empty) UID.
func SameDecider(d janus.Decision, username, uid string) bool {
	return d.User == username || (uid != "" && d.UID == uid)
}
