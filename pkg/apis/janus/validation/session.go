package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// ValidateSession checks a Session as Janus writes it when the session
// opens: who ran what where, under which request.
func ValidateSession(s *janus.Session) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&s.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	spec := field.NewPath("spec")
	for _, f := range []struct {
		name, value string
	}{{"request", s.Spec.Request}, {"cluster", s.Spec.Cluster}, {"namespace", s.Spec.Namespace}, {"pod", s.Spec.Pod}} {
		if f.value == "" {
			allErrs = append(allErrs, field.Required(spec.Child(f.name), ""))
		}
	}
	if s.Spec.User.Username == "" {
		allErrs = append(allErrs, field.Required(spec.Child("user", "username"), ""))
	}
	return append(allErrs, validateSessionStatus(&s.Status, field.NewPath("status"))...)
}

func validateSessionStatus(st *janus.SessionStatus, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch st.Phase {
	case janus.SessionOpen:
		if st.EndedAt != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("endedAt"), "an open session has not ended"))
		}
	case janus.SessionClosed:
		if st.EndedAt == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("endedAt"), "a closed session has ended"))
		}
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("phase"), st.Phase, []janus.SessionPhase{janus.SessionOpen, janus.SessionClosed}))
	}
	if st.StartedAt == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("startedAt"), ""))
	} else if st.EndedAt != nil && st.EndedAt.Before(st.StartedAt) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("endedAt"), st.EndedAt, "must not be before startedAt"))
	}
	if st.BytesIn < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("bytesIn"), st.BytesIn, "must not be negative"))
	}
	if st.BytesOut < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("bytesOut"), st.BytesOut, "must not be negative"))
	}
	return allErrs
}

// ValidateSessionUpdate checks the end of a session: its spec never
// changes, and a closed session stays closed.
func ValidateSessionUpdate(newS, oldS *janus.Session) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&newS.ObjectMeta, &oldS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newS.Spec, oldS.Spec, field.NewPath("spec"))...)
	if oldS.Status.Phase == janus.SessionClosed && newS.Status.Phase != janus.SessionClosed {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("status", "phase"), "a closed session cannot reopen"))
	}
	return append(allErrs, validateSessionStatus(&newS.Status, field.NewPath("status"))...)
}

// ValidateSessionTermination checks a termination: the person cut off
// deserves a reason, and it reaches their terminal.
func ValidateSessionTermination(t *janus.SessionTermination) field.ErrorList {
	return validateReason(t.Reason, true, field.NewPath("reason"))
}
