package tunnel

import (
	"net/url"
	"time"
)

// AgentAddress is the only address janus-apiserver ever asks an agent to
// dial through its tunnel: the agent serves its API in memory behind it.
const AgentAddress = "janus-agent.internal:80"

// Agent API paths, served by the agent and reached by the server through
// the tunnel.
const (
	// PathInfo answers GET with AgentInfo.
	PathInfo = "/v1/info"
	// PathGrants prefixes /v1/grants/<request>: PUT a GrantSpec to create or
	// refresh a grant (GrantStatus back), DELETE to remove it (idempotent).
	PathGrants = "/v1/grants/"
	// PathReconcile answers POST of a ReconcileRequest: everything Janus
	// labelled in the target cluster that is not listed is removed, and every
	// listed grant is ensured. Sent on every (re)connect.
	PathReconcile = "/v1/reconcile"
	// PathExec prefixes /v1/exec/<request>/<namespace>/<pod>: the agent
	// runs pods/exec in the target cluster with the request's own token and
	// relays the stream (websocket upgrade, v5.channel.k8s.io). The query is
	// the pods/exec query (container, command, stdin, stdout, stderr, tty).
	PathExec = "/v1/exec/"
	// PathLog prefixes /v1/log/<request>/<namespace>/<pod>: pods/log, the
	// same way; the query is the pods/log query.
	PathLog = "/v1/log/"
	// PathStreams answers POST of a StreamRequest: the agent dials
	// janus-apiserver's /connect again with the ticket, and serves this
	// same API on that connection, where the server sends the one exec or
	// log request of a stream. Streams thus never share the tunnel, and a
	// bulk one cannot hold up the grants.
	PathStreams = "/v1/streams"
)

// StreamRequest asks the agent for a stream connection.
type StreamRequest struct {
	// Ticket is the single-use secret the agent presents on the new
	// connection in HeaderStreamTicket.
	Ticket string `json:"ticket"`
}

// StreamPath is the agent path of an exec or log stream.
func StreamPath(prefix, request, namespace, pod string) string {
	return prefix + url.PathEscape(request) + "/" + url.PathEscape(namespace) + "/" + url.PathEscape(pod)
}

// GrantSpec asks the agent for a grant for one AccessRequest.
type GrantSpec struct {
	// Request is the AccessRequest's name.
	Request string `json:"request"`
	// Requester is the username, recorded on the target objects' annotations.
	Requester string `json:"requester"`
	// Namespaces the grant covers.
	Namespaces []string `json:"namespaces"`
	// ExpiresAt bounds the token the agent mints (with a 10-minute floor).
	ExpiresAt time.Time `json:"expiresAt"`
}

// GrantStatus is what the agent created.
type GrantStatus struct {
	Request string  `json:"request"`
	Grants  []Grant `json:"grants"`
}

// Grant is what the agent created in one namespace. It is the wire form of
// the AccessRequest's status.grants (v1alpha1.Grant, the same fields under
// the same names), declared here so that the agent does not link the API
// types.
type Grant struct {
	// Namespace the grant covers.
	Namespace string `json:"namespace"`
	// ServiceAccount is namespace/name of the per-request ServiceAccount.
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// Role is the name of the (Cluster)Role the binding refers to.
	Role string `json:"role,omitempty"`
	// RoleBinding is the name of the RoleBinding in the namespace.
	RoleBinding string `json:"roleBinding,omitempty"`
}

// ReconcileRequest lists every grant that should exist in the cluster.
type ReconcileRequest struct {
	Active []GrantSpec `json:"active"`
}

// ReconcileResult says what the agent changed.
type ReconcileResult struct {
	// Removed are requests whose leftover objects were deleted.
	Removed []string `json:"removed,omitempty"`
	// Ensured are requests whose grant exists now.
	Ensured []string `json:"ensured,omitempty"`
	// Failed maps requests to why their grant could not be ensured.
	Failed map[string]string `json:"failed,omitempty"`
}

// AgentInfo describes the agent and its cluster.
type AgentInfo struct {
	Version           string   `json:"version"`
	KubernetesVersion string   `json:"kubernetesVersion"`
	Namespaces        []string `json:"namespaces"`
}

// Error is the body of every non-2xx answer of the agent API.
type Error struct {
	// Message is written for the user who asked for access.
	Message string `json:"message"`
	// Refused is true when the agent's own policy forbids the grant (for
	// example an excluded namespace): retrying cannot help.
	Refused bool `json:"refused,omitempty"`
}

// Headers of the /connect handshake.
const (
	// HeaderCluster names the Cluster the agent claims to be.
	HeaderCluster = "X-Janus-Cluster"
	// HeaderAgentToken carries the agent's projected ServiceAccount token.
	// It is not the Authorization header, so the API server's own
	// authentication never sees (or forwards) a foreign cluster's token.
	HeaderAgentToken = "X-Janus-Agent-Token"
	// HeaderStreamTicket carries a StreamRequest's ticket on a stream
	// connection. The ticket was given to the verified agent over its
	// tunnel moments ago, is bound to its cluster and is used once, so it
	// is the agent's proof of identity here.
	HeaderStreamTicket = "X-Janus-Stream-Ticket"
	// StreamUpgrade is the Upgrade token of a stream connection.
	StreamUpgrade = "janus-stream"
	// Audience is the audience the agent's token must be minted for.
	Audience = "janus.infroware.io"
	// ConnectPath is where janus-apiserver serves the tunnel.
	ConnectPath = "/connect"
)

// StreamTimeout bounds how long an agent takes to dial a stream
// connection back after a StreamRequest.
const StreamTimeout = 10 * time.Second
