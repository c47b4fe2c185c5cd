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
// The page lists the pods of a granted namespace (accessrequests/pods) to
// pick a pod, container and shell from, opens a pod directly by deep link
// (?namespace=&pod=), splits into panes of their own sessions, and offers
// the Cluster's quick commands (spec.console.quickCommands) beside the
// person's own, kept in the browser; it types a coloured prompt into each
// new shell unless the person turned that off. Around it, each read as the person:
// GET /requests/{name}/terminal/state tells the page the request's phase
// and end, so it shows the time left (warning five minutes before) and
// offers to reconnect only while the request is Active;
// GET /requests/{name}/terminal/logs streams a pod's log
// (accessrequests/log, followed) and GET /requests/{name}/terminal/events
// lists its Events (accessrequests/events) for the sidebar.
package terminal
