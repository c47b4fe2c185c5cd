// Package tunnelserver is janus-apiserver's end of the agent tunnels: it
// serves /connect, verifies each agent's projected ServiceAccount token
// against the spec.agent of the Cluster it claims (identity.go), holds one
// tunnel per cluster and closes it when that trust changes or the token
// expires (trust.go), calls agents through their tunnels (AgentClient),
// and brokers the per-stream connections agents dial back for exec and log
// (streams.go). It also serves the tunnel's own port (listener.go), which
// answers nothing but /connect.
//
// With several replicas they peer (peers.go), so that an agent's tunnel,
// held by one replica, serves them all. This is remotedialer's own
// peering: each replica dials every other's /connect with its peer ID and
// the shared peer token, and learns over that link the agents the other
// holds, so remotedialer's Dialer(cluster) goes through the peer holding
// the tunnel; Agent and OpenStream need nothing else. On top of it Janus
// adds three things remotedialer lacks: the token is compared in constant
// time, and only from a replica the peer Service lists, before
// remotedialer sees it; remotedialer dials peers without checking their
// certificate, so it dials a loopback relay that reaches the peer over
// verified TLS (against fixed roots, or a CA bundle read at each handshake
// for CAs that rotate, the self-managed certificate's); and stream connections, which the agent dials back to
// whichever replica it reaches, carry a ticket naming the replica that
// asked for them ("<replica>.<random>"), and a replica that did not issue
// a ticket passes the connection on to the peer that did. Relaying the
// dial-back, instead of having the holding replica open the stream and
// splice it over the tunnel, keeps the stream's bytes off the
// multiplexed tunnel, which was why streams dial back at all; a ticket
// naming a replica that is not a peer is refused like any unknown one.
// A replica learns the agents a peer holds only on the link that peer
// dials to it, which remotedialer redials every 5 s, so a replica that
// (re)started cannot serve them until then: PeersSynced, its readiness
// check, fails until every listed peer linked to it, or was waited for
// 15 s, so that a dead peer does not keep it unready; once passed it stays
// so (peersync.go). While a link is new, AwaitAgent and OpenStream wait up
// to 2 s for an agent not known yet, whose announcement follows the
// handshake.
// Replicas also call each other (peercalls.go) for what only one holds,
// the live sessions it relays: a plain HTTP request on the peer's
// /connect over the same verified TLS, naming the caller and carrying the
// peer token, compared in constant time, from a listed peer only, before
// the handler the server was given sees it; what a call means is that
// handler's business, not this package's.
//
// Here "agent" is the remote janus-agent of a cluster, and an AgentClient
// is this server's client of it. The wire definitions both ends share live
// in pkg/tunnel; this package must not define any of its own (the peer
// calls' headers are between replicas, both ends of them here), and nothing
// janus-agent links may import it (it brings go-oidc and the API types).
// It decides nothing about requests: which replica acts on a connect is
// the lifecycle controller's business, under its Lease.
package tunnelserver
