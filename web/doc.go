// Package web holds the console's HTML templates (templates/) and static
// files (static/), embedded into the binary with go:embed. Pages carry no
// inline script or style: the Content-Security-Policy forbids them.
//
// static/vendor/ holds htmx and its SSE extension exactly as
// package-lock.json pins them, copied there by make web-assets (and checked
// by make verify); static/live.js keeps what a person types in a live page
// across its re-fetches. package.json and package-lock.json are not
// embedded.
package web
