// Package tunnel is the one definition of how janus-apiserver and its agents
// talk, imported by both ends: the /connect handshake's paths and headers,
// the grant protocol's types (protocol.go), the exec and log options that
// cross the tunnel and their codec (streamoptions.go), and the stream
// connection's framing helpers. The agent dials out to /connect with a
// projected ServiceAccount token; the server verifies it against the
// Cluster it claims; the two then speak the grant protocol over a
// multiplexed websocket (rancher/remotedialer). Nothing ever dials into a
// target cluster. The per-request token a grant creates never crosses the
// tunnel.
//
// In this package "agent" means the agent API: what janus-agent serves
// behind AgentAddress and janus-apiserver calls. It holds wire definitions
// only: it must not dial, listen, verify tokens or import the Janus API
// types (pkg/apis/janus and its versions), so that janus-agent links none
// of the server's dependencies. janus-apiserver's end is
// pkg/tunnelserver, the agent's end pkg/agent/connector.
package tunnel
