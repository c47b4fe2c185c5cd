// Package live serves GET /live: a Server-Sent Events stream that tells an
// open page when what it shows has changed, so the page re-fetches its
// content (htmx, web/templates/layout.html) without a reload.
//
// Each stream is a watch on AccessRequests as the signed-in person (the
// impersonating clients of kubeclient), scoped to what the page shows: the
// person's own requests, every request they may list, or one request by
// name. RBAC decides what the watch sees, as it decides what the page
// renders; the stream carries no request data, only "changed" (with the
// resourceVersion as the event id, so a reconnecting browser resumes where
// it was), a periodic "tick" so relative times stay true, and "ended" with
// the API's words when the API refuses the watch.
//
// Expired resourceVersions are re-listed (and the page told to re-fetch),
// dropped watches re-watched from the last resourceVersion seen, bookmarks
// move the resume point without a re-fetch, and each stream ends after a
// while (or at once when the server shuts down) so the browser reconnects
// through sign-in and RBAC again. A person may hold a few streams at once;
// more get 429.
package live
