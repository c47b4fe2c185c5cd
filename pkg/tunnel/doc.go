// Package tunnel is the one definition of how janus-apiserver and its agents
// talk: the agent dials out to /connect with a projected ServiceAccount
// token, the server verifies it against the Cluster it claims, and the two
// then speak the grant protocol (protocol.go) over a multiplexed websocket
// (rancher/remotedialer). Nothing ever dials into a target cluster. The
// per-request token a grant creates never crosses the tunnel.
package tunnel
