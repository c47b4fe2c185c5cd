package agent

import (
	"fmt"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/tunnel"
)

// validateRequestName checks that request can name a grant's objects: it is
// an AccessRequest name (a DNS subdomain) and, because it is also the value
// of RequestLabel, at most 63 characters long.
func validateRequestName(request string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if request == "" {
		return append(allErrs, field.Required(fldPath, "the AccessRequest's name"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(request) {
		allErrs = append(allErrs, field.Invalid(fldPath, request, msg))
	}
	if len(request) > validation.LabelValueMaxLength {
		allErrs = append(allErrs, field.Invalid(fldPath, request,
			fmt.Sprintf("must be no more than %d characters: it is the value of the label %s", validation.LabelValueMaxLength, RequestLabel)))
	}
	return allErrs
}

// checkRequestName returns an invalid GrantError if request cannot name a
// grant.
func checkRequestName(request string) error {
	if errs := validateRequestName(request, field.NewPath("request")); len(errs) > 0 {
		return invalidf("%s", errs.ToAggregate().Error())
	}
	return nil
}

// checkGrantSpec returns an invalid GrantError if spec is malformed. The
// agent's policy (excluded and missing namespaces) is checked later, by
// Provisioner.refusals.
func checkGrantSpec(spec tunnel.GrantSpec) error {
	allErrs := validateRequestName(spec.Request, field.NewPath("request"))
	if spec.Requester == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("requester"), "the username of whoever asked"))
	}
	nsPath := field.NewPath("namespaces")
	if len(spec.Namespaces) == 0 {
		allErrs = append(allErrs, field.Required(nsPath, "at least one namespace"))
	}
	seen := sets.New[string]()
	for i, ns := range spec.Namespaces {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(nsPath.Index(i), ns, msg))
		}
		if seen.Has(ns) {
			allErrs = append(allErrs, field.Duplicate(nsPath.Index(i), ns))
		}
		seen.Insert(ns)
	}
	if spec.ExpiresAt.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("expiresAt"), "when the grant ends"))
	}
	if len(allErrs) > 0 {
		return invalidf("%s", allErrs.ToAggregate().Error())
	}
	return nil
}
