package validation

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

const (
	// MaxExecCommandArgs bounds the elements of an exec command. The command
	// is recorded on the request's sessions and travels in the agent's URL,
	// so an unbounded one would bloat the stored object and the URL.
	MaxExecCommandArgs = 1024
	// MaxExecCommandBytes bounds the total length of an exec command's
	// elements, for the same reason.
	MaxExecCommandBytes = 64 << 10
)

// ValidateAccessRequestExecOptions checks the query of accessrequests/exec.
// Field paths are the query parameters' names, since that is what the user
// typed. The stream rules are kubelet's, checked here so that a bad
// combination is refused before a grant's token is used and a session is
// recorded, with the same words kubelet would use.
func ValidateAccessRequestExecOptions(o *janus.AccessRequestExecOptions) field.ErrorList {
	allErrs := validateStreamTarget(o.Namespace, o.Pod, o.Container)
	allErrs = append(allErrs, validateExecCommand(o.Command, field.NewPath("command"))...)
	if !o.Stdin && !o.Stdout && !o.Stderr {
		allErrs = append(allErrs, field.Required(field.NewPath("stdout"), "you must specify at least 1 of stdin, stdout, stderr"))
	}
	if o.TTY && o.Stderr {
		allErrs = append(allErrs, field.Invalid(field.NewPath("stderr"), o.Stderr, "tty and stderr cannot both be true"))
	}
	return allErrs
}

// ValidateAccessRequestLogOptions checks the query of accessrequests/log
// with the rules and words of ValidatePodLogOptions in k8s.io/kubernetes, so
// a user sees the same refusal as from pods/log.
func ValidateAccessRequestLogOptions(o *janus.AccessRequestLogOptions) field.ErrorList {
	allErrs := validateStreamTarget(o.Namespace, o.Pod, o.Container)
	if o.SinceSeconds != nil && *o.SinceSeconds < 1 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if o.TailLines != nil && *o.TailLines < 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	return allErrs
}

// validateStreamTarget checks the names that end up in the target's URL
// path, so that nothing but a name can be spliced into it.
func validateStreamTarget(namespace, pod, container string) field.ErrorList {
	var allErrs field.ErrorList
	if namespace == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("namespace"), "the namespace of the pod"))
	} else {
		for _, msg := range validation.IsDNS1123Label(namespace) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("namespace"), namespace, msg))
		}
	}
	if pod == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("pod"), "the name of the pod"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(pod) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("pod"), pod, msg))
		}
	}
	if container != "" {
		for _, msg := range validation.IsDNS1123Label(container) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("container"), container, msg))
		}
	}
	return allErrs
}

func validateExecCommand(command []string, fldPath *field.Path) field.ErrorList {
	if len(command) == 0 {
		return field.ErrorList{field.Required(fldPath, "the command to run")}
	}
	var allErrs field.ErrorList
	if len(command) > MaxExecCommandArgs {
		allErrs = append(allErrs, field.TooMany(fldPath, len(command), MaxExecCommandArgs))
	}
	total := 0
	for i, arg := range command {
		total += len(arg)
		// An argument is handed to execve as a C string: a NUL would cut it
		// short, so what runs would differ from what was recorded.
		if strings.IndexByte(arg, 0) >= 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Index(i), field.OmitValueType{}, "must not contain a NUL byte"))
		}
	}
	if total > MaxExecCommandBytes {
		allErrs = append(allErrs, field.TooLong(fldPath, "", MaxExecCommandBytes))
	}
	return allErrs
}
