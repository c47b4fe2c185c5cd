// Package pages serves the console's server-rendered pages (My requests,
// Request access, Approvals) and their form POSTs. Each handler asks the
// Janus API as the signed-in person and renders one template from web/;
// API errors are shown as the API said them, a 422 beside the field its
// path names.
package pages
