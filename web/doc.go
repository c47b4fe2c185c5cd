// Package web holds the console's HTML templates (templates/) and static
// files (static/), embedded into the binary with go:embed. Pages carry no
// inline script or style: the Content-Security-Policy forbids them.
package web
