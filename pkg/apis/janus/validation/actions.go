package validation

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// ValidateApproval checks an approval; a duration override must stay within
// the policy of the request's cluster.
func ValidateApproval(a *janus.Approval, policy Policy) field.ErrorList {
	allErrs := validateReason(a.Reason, false, field.NewPath("reason"))
	if a.Duration != nil {
		allErrs = append(allErrs, validateDurationBounds(a.Duration.Duration, policy, field.NewPath("duration"))...)
	}
	return allErrs
}

// ValidateDenial checks a denial: the requester deserves a reason.
func ValidateDenial(d *janus.Denial) field.ErrorList {
	return validateReason(d.Reason, true, field.NewPath("reason"))
}

// ValidateRevocation checks a revocation: the person cut off deserves a reason.
func ValidateRevocation(r *janus.Revocation) field.ErrorList {
	return validateReason(r.Reason, true, field.NewPath("reason"))
}

// ValidateWithdrawal checks a withdrawal; its reason is optional.
func ValidateWithdrawal(w *janus.Withdrawal) field.ErrorList {
	return validateReason(w.Reason, false, field.NewPath("reason"))
}

// ValidateExtension checks an extension request on its own; the cap at
// activatedAt + maxDuration is applied where the request is known.
func ValidateExtension(e *janus.Extension) field.ErrorList {
	allErrs := validateReason(e.Reason, true, field.NewPath("reason"))
	if e.Duration.Duration <= 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("duration"), e.Duration.Duration.String(), "must be positive"))
	}
	return allErrs
}
