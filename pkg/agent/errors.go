package agent

import (
	"errors"
	"fmt"
)

// GrantError is a grant the agent will not make as asked. Its message is
// written for the person who asked for access; the central server shows it
// to them as is.
type GrantError struct {
	// Refused is true when the agent's own policy forbids the grant (an
	// excluded namespace, or one this cluster does not have): retrying
	// cannot help.
	Refused bool
	// Invalid is true when the request itself is malformed.
	Invalid bool
	// Message says what is wrong.
	Message string
}

func (e *GrantError) Error() string { return e.Message }

func refusedf(format string, args ...any) error {
	return &GrantError{Refused: true, Message: fmt.Sprintf(format, args...)}
}

func invalidf(format string, args ...any) error {
	return &GrantError{Invalid: true, Message: fmt.Sprintf(format, args...)}
}

// IsRefused reports whether err, or an error it wraps, is a refusal by the
// agent's policy.
func IsRefused(err error) bool {
	var g *GrantError
	return errors.As(err, &g) && g.Refused
}

// IsInvalid reports whether err, or an error it wraps, says the request was
// malformed.
func IsInvalid(err error) bool {
	var g *GrantError
	return errors.As(err, &g) && g.Invalid
}
