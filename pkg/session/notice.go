package session

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// sanitize makes text safe to put on a terminal: text from people (a
// decision's reason, a command's error) reaches the user's terminal only
// through here, so an escape sequence in it (a title change, a screen
// clear, a hyperlink) is shown as \x1b and never acted on.
func sanitize(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || unicode.IsGraphic(r) && !unicode.Is(unicode.Bidi_Control, r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += size
	}
	return b.String()
}

// trimJanus drops the "janus: " a line of Janus's own starts with.
func trimJanus(s string) string { return strings.TrimPrefix(s, "janus: ") }
