package terminal

import (
	"strings"

	"k8s.io/client-go/tools/remotecommand"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func sizeOf(w, h uint16) remotecommand.TerminalSize {
	return remotecommand.TerminalSize{Width: w, Height: h}
}
