package validation

import (
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateTerminalText refuses what people type (reasons, display names)
// when it holds characters a terminal acts on instead of showing: C0 and
// C1 controls (ESC starts a title change or a screen clear, CR overwrites
// a line), DEL, bidirectional overrides that reorder what is shown, and
// bytes that are not UTF-8. These texts end up on requesters' terminals,
// in kubectl describe and in the console.
func validateTerminalText(s string, fldPath *field.Path) field.ErrorList {
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			return field.ErrorList{field.Invalid(fldPath, s, "must be UTF-8 text")}
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			return field.ErrorList{field.Invalid(fldPath, s, "must be printable text on one line: no control characters (such as ESC, CR, a line break or a tab) or bidirectional overrides")}
		}
	}
	return nil
}

// validRuneAt tells a real U+FFFD from an invalid byte at s[i:].
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size == 3
}
