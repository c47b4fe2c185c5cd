// Package session is the REST storage of Session objects, the audit record
// of each exec session. People read them (get, list, watch, with field
// selectors on request, cluster, user and phase); only Janus writes them,
// through Store, which the API does not serve: there is no create, update
// or delete verb for RBAC to grant.
//
// A live session is relayed by one replica (status.server), and its
// attach and terminate subresources answer from any: the replica that
// answers authorizes the approver, and when it does not relay the session
// itself it has the relaying one do the rest over the authenticated peer
// link (peers.go: PeerCalls on the relaying side, the relay on the
// answering side). attach streams the relaying replica's events through,
// unchanged and one way: the peer call is a GET without a body, so a
// follower still has no way into the session. terminate is carried out by
// the relaying replica at once, and answered as before with the Session
// once it is recorded Closed. This was chosen over recording the
// termination in the Session for every replica to watch: Sessions stay a
// record of what happened, with no field that asks for something, the
// approver's answer says whether the cut happened, and attach needs the
// peer link anyway. When the relaying replica cannot be reached the answer
// is 503 naming it, or 409 once the Session is closed (a replica that was
// killed closes its Sessions when it starts again). The package must not
// decide who may reach a peer: tunnelserver authenticates peer calls
// before PeerCalls sees them.
package session
