// Package connector is janus-agent's end of the tunnel: Run dials out to
// janus-apiserver's /connect with the projected ServiceAccount token,
// reconnects with backoff (and before the token expires), and serves the
// agent API, given as an http.Handler, on connections that come only
// through the tunnel or through the stream connections it dials back on
// request. It never listens on a socket.
//
// It speaks the wire definitions of pkg/tunnel and defines none of its
// own. It must not import janus-apiserver's side (pkg/tunnelserver) nor the
// Janus API types, and knows nothing of grants: what the agent API does is
// pkg/agent's.
package connector
