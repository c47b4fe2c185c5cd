package validation

import (
	"strings"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

const (
	// MaxQuickCommands bounds a Cluster's shared quick commands: they are
	// buttons in every terminal of the console, not a script library.
	MaxQuickCommands = 20
	// MaxQuickCommandName bounds a quick command's label, in characters.
	MaxQuickCommandName = 32
	// MaxQuickCommandLength bounds the line a quick command types, in
	// characters.
	MaxQuickCommandLength = 1024
)

// validateClusterConsole checks what the console offers for a cluster. A
// quick command is typed into a shell in a pod when someone presses its
// button, so it is one line of printable text: a line break would run a
// second command the label does not show, and an escape sequence would act
// on the terminal of everyone who sees it.
func validateClusterConsole(console *janus.ClusterConsole, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	cmdsPath := fldPath.Child("quickCommands")
	if n := len(console.QuickCommands); n > MaxQuickCommands {
		allErrs = append(allErrs, field.TooMany(cmdsPath, n, MaxQuickCommands))
	}
	names := sets.New[string]()
	for i, qc := range console.QuickCommands {
		p := cmdsPath.Index(i)
		namePath := p.Child("name")
		switch {
		case strings.TrimSpace(qc.Name) == "":
			allErrs = append(allErrs, field.Required(namePath, "the label of the command's button"))
		case strings.TrimSpace(qc.Name) != qc.Name:
			allErrs = append(allErrs, field.Invalid(namePath, qc.Name, "must not start or end with a space"))
		case utf8.RuneCountInString(qc.Name) > MaxQuickCommandName:
			allErrs = append(allErrs, field.TooLongCharacters(namePath, qc.Name, MaxQuickCommandName))
		case names.Has(qc.Name):
			allErrs = append(allErrs, field.Duplicate(namePath, qc.Name))
		default:
			allErrs = append(allErrs, validateTerminalText(qc.Name, namePath)...)
		}
		names.Insert(qc.Name)
		commandPath := p.Child("command")
		switch {
		case strings.TrimSpace(qc.Command) == "":
			allErrs = append(allErrs, field.Required(commandPath, "the line the command types into the shell"))
		case utf8.RuneCountInString(qc.Command) > MaxQuickCommandLength:
			allErrs = append(allErrs, field.TooLongCharacters(commandPath, "", MaxQuickCommandLength))
		default:
			allErrs = append(allErrs, validateTerminalText(qc.Command, commandPath)...)
		}
	}
	return allErrs
}
