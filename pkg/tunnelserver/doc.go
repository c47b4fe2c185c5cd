// Package tunnelserver is janus-apiserver's end of the agent tunnels: it
// serves /connect, verifies each agent's projected ServiceAccount token
// against the spec.agent of the Cluster it claims (identity.go), holds one
// tunnel per cluster and closes it when that trust changes or the token
// expires (trust.go), calls agents through their tunnels (AgentClient),
// and brokers the per-stream connections agents dial back for exec and log
// (streams.go). It also serves the tunnel's own port (listener.go), which
// answers nothing but /connect.
//
// Here "agent" is the remote janus-agent of a cluster, and an AgentClient
// is this server's client of it. The wire definitions both ends share live
// in pkg/tunnel; this package must not define any of its own, and nothing
// janus-agent links may import it (it brings go-oidc and the API types).
package tunnelserver
