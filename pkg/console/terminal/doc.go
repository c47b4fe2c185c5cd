// Package terminal is the console's browser terminal: the page
// GET /requests/{name}/terminal (xterm.js, web/static/terminal.js) and the
// websocket GET /requests/{name}/terminal/ws that relays it to Janus's
// accessrequests/NAME/exec as the signed-in person.
//
// The browser speaks the Kubernetes channel protocol v5.channel.k8s.io to
// the console (stdin 0, stdout 1, stderr 2, status 3, resize 4, close 255).
// The console checks the session cookie and that the websocket comes from
// the console's own origin (--public-url; CrossOriginProtection does not
// look at websocket GETs), then opens the exec stream with client-go's
// websocket executor and the person's own client configuration
// (impersonation, or the person's ID token), so every rule of exec holds
// as in kubectl: requester only, Active only, granted namespaces, cut on
// revocation or expiry, idle timeout, session limits. Whatever the API
// answers — the command's exit status, "janus: access revoked by carol: …",
// a 403 before the stream opened — reaches the browser as the final Status
// on channel 3, then the websocket closes.
//
// GET /requests/{name}/terminal/state tells the page the request's phase
// and end, so it shows the time left and offers to reconnect only while the
// request is Active.
package terminal
