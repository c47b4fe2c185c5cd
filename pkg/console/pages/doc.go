// Package pages serves the console's server-rendered pages (My requests,
// Request access, Approvals, a request's detail page) and their form POSTs
// (request, withdraw, approve, deny, revoke, extend). Each handler asks the
// Janus API as the signed-in person and renders one template from web/;
// which decisions a page offers comes from the API's access review, and
// the API decides again on every POST. API errors are shown as the API said
// them, a 422 beside the field its path names.
package pages
