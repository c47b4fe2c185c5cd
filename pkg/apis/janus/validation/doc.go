// Package validation checks janus.infroware.io objects and returns every
// problem as a field.ErrorList with exact field paths. It is the only place
// the API's rules are written down; strategies and subresources call it and
// must not re-implement a rule.
package validation
