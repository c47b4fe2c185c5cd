package janus

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequest asks for time-limited exec access to pods in some namespaces
// of one target cluster. It moves Pending → Approved → Active → Expired, or
// ends Denied, Withdrawn, Revoked or Failed.
type AccessRequest struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// spec is what is asked for. It is immutable after creation.
	Spec AccessRequestSpec
	// status is maintained by Janus through the action subresources and the
	// lifecycle controller.
	Status AccessRequestStatus
}

// AccessRequestSpec is what a requester asks for.
type AccessRequestSpec struct {
	// cluster is the name of the Cluster object the access is for.
	Cluster string
	// namespaces are the namespaces of the target cluster the access covers
	// (1 to 20 distinct DNS labels, none of them excluded).
	Namespaces []string
	// duration is how long the access lasts once it is active. Defaults to
	// 1h; bounded by the server's --min-duration/--max-duration and the
	// Cluster's maxDuration.
	Duration metav1.Duration
	// reason says why the access is needed (required, at most 1024 characters).
	Reason string
	// requester is the identity that created the request. It is stamped by
	// the server from the authenticated user; whatever a client sends is
	// discarded.
	Requester UserInfo
}

// UserInfo is an authenticated identity as the API server saw it.
type UserInfo struct {
	// username of the authenticated user.
	Username string
	// uid of the authenticated user.
	UID string
	// groups the authenticated user belongs to.
	Groups []string
	// extra attributes of the authenticated user.
	Extra map[string]ExtraValue
}

// ExtraValue masks the value so protobuf can generate.
type ExtraValue []string

// AccessRequestPhase is the lifecycle position of an AccessRequest.
type AccessRequestPhase string

const (
	// AccessRequestPending waits for approvals.
	AccessRequestPending AccessRequestPhase = "Pending"
	// AccessRequestApproved has its approvals and waits for the agent's grant.
	AccessRequestApproved AccessRequestPhase = "Approved"
	// AccessRequestActive has a live grant in the target cluster.
	AccessRequestActive AccessRequestPhase = "Active"
	// AccessRequestExpired ran its course; the grant is removed.
	AccessRequestExpired AccessRequestPhase = "Expired"
	// AccessRequestDenied was refused by an approver or timed out pending.
	AccessRequestDenied AccessRequestPhase = "Denied"
	// AccessRequestWithdrawn was withdrawn by its requester.
	AccessRequestWithdrawn AccessRequestPhase = "Withdrawn"
	// AccessRequestRevoked was cut short by an approver.
	AccessRequestRevoked AccessRequestPhase = "Revoked"
	// AccessRequestFailed could not be granted in the target cluster.
	AccessRequestFailed AccessRequestPhase = "Failed"
)

// Condition types of an AccessRequest.
const (
	ConditionApproved    = "Approved"
	ConditionDenied      = "Denied"
	ConditionProvisioned = "Provisioned"
	ConditionExpired     = "Expired"
	ConditionRevoked     = "Revoked"
	ConditionWithdrawn   = "Withdrawn"
	ConditionExtended    = "Extended"
)

// Reasons of the Provisioned condition that say no grant is left to remove.
const (
	// ReasonGrantRemoved: the agent confirmed the grant gone and its
	// sessions cut.
	ReasonGrantRemoved = "GrantRemoved"
	// ReasonClusterUnregistered: the request's Cluster is no longer
	// registered, so no tunnel carries the grant's sessions; should its
	// agent ever connect again, it removes the grant as it reconciles.
	ReasonClusterUnregistered = "ClusterUnregistered"
)

// GrantFinalizer keeps a deleted AccessRequest until Janus has removed its
// grant from the target cluster and cut its sessions. The server adds it
// to every request it creates, and only Janus removes it.
const GrantFinalizer = "janus.infroware.io/grant"

// DecisionReasonDeleted is the reason of the decision that ends a request
// someone deleted while it could still give access.
const DecisionReasonDeleted = "deleted"

// AccessRequestStatus is the observed state of an AccessRequest.
type AccessRequestStatus struct {
	// phase is the lifecycle position of the request.
	Phase AccessRequestPhase
	// conditions record each transition.
	Conditions []metav1.Condition
	// approvals holds one entry per distinct approver.
	Approvals []Decision
	// requiredApprovals is the number of distinct approvals the request
	// needs, copied from its Cluster's spec.approval.required when it was
	// created, so that a later change of the Cluster does not change it.
	// Zero on requests created before it was recorded: their Cluster's
	// current policy applies.
	RequiredApprovals int32
	// decision records who denied, revoked or withdrew the request.
	Decision *Decision
	// extensions records each extension of an active request.
	Extensions []Decision
	// grantedDuration is the duration the grant is given when it becomes
	// active: spec.duration, or the shortest duration an approver set.
	GrantedDuration *metav1.Duration
	// activatedAt is when the grant became live in the target cluster.
	ActivatedAt *metav1.Time
	// expiresAt is when the grant ends.
	ExpiresAt *metav1.Time
	// grants are the objects the agent created in the target cluster.
	Grants []Grant
	// activeSessions counts the request's exec sessions open now.
	ActiveSessions int32
	// totalSessions counts every exec session opened under the request;
	// each is a Session object.
	TotalSessions int32
	// message is a human-readable explanation of the current phase.
	Message string
}

// Decision records one person's decision on a request.
type Decision struct {
	// user who decided.
	User string
	// uid of the user who decided, as authenticated.
	UID string
	// time of the decision.
	Time metav1.Time
	// reason the user gave.
	Reason string
	// duration the user set (approvals and extensions only).
	Duration *metav1.Duration
}

// Grant describes what the agent created in one namespace of the target cluster.
type Grant struct {
	// namespace the grant covers.
	Namespace string
	// serviceAccount is namespace/name of the per-request ServiceAccount.
	ServiceAccount string
	// role is the name of the (Cluster)Role the binding refers to.
	Role string
	// roleBinding is the name of the RoleBinding in the namespace.
	RoleBinding string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestList is a list of AccessRequests.
type AccessRequestList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []AccessRequest
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Cluster registers a target cluster whose agent Janus trusts, and the
// policy for access to it.
type Cluster struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   ClusterSpec
	Status ClusterStatus
}

// ClusterSpec is the registration and access policy of a target cluster.
type ClusterSpec struct {
	// displayName is a human-friendly name.
	DisplayName string
	// agent says how the cluster's agent proves its identity. Whoever can
	// change it can become the cluster's agent, so after creation it changes
	// only through the clusters/agent subresource.
	Agent ClusterAgent
	// excludedNamespaces may never be requested in this cluster, in addition
	// to the server's --excluded-namespaces.
	ExcludedNamespaces []string
	// maxDuration caps the duration of requests for this cluster below the
	// server's --max-duration.
	MaxDuration *metav1.Duration
	// approval is the approval policy.
	Approval ApprovalPolicy
	// console is what the web console offers for this cluster.
	Console ClusterConsole
}

// ClusterConsole is what the web console offers for a cluster.
type ClusterConsole struct {
	// quickCommands are one-click commands shared by everyone who opens a
	// terminal in this cluster.
	QuickCommands []QuickCommand
}

// QuickCommand is a named command the console's terminal types for the user.
type QuickCommand struct {
	// name is the button's label.
	Name string
	// command is the line typed into the shell.
	Command string
}

// ClusterAgent identifies the agent of a target cluster: a projected
// ServiceAccount token from that cluster's issuer.
type ClusterAgent struct {
	// issuer is the target cluster's ServiceAccount token issuer.
	Issuer string
	// jwks is the issuer's JSON Web Key Set document. When empty it is
	// fetched through OIDC discovery from the issuer.
	JWKS string
	// serviceAccount is namespace/name of the agent's ServiceAccount.
	ServiceAccount string
}

// ApprovalPolicy says how many approvals a request needs.
type ApprovalPolicy struct {
	// required is the number of distinct approvers needed (default 1).
	Required int32
}

// ClusterStatus is reported by the cluster's agent.
type ClusterStatus struct {
	// agent describes the connection of the agent.
	Agent AgentStatus
	// namespaces of the target cluster that may be requested.
	Namespaces []string
	Conditions []metav1.Condition
}

// AgentStatus describes an agent's connection.
type AgentStatus struct {
	// connected is true while the agent's tunnel is open.
	Connected bool
	// lastSeen is when the agent was last heard from.
	LastSeen *metav1.Time
	// version of the agent.
	Version string
	// kubernetesVersion of the target cluster.
	KubernetesVersion string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterList is a list of Clusters.
type ClusterList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Cluster
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Approval is posted to accessrequests/approve.
type Approval struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// reason for the approval.
	Reason string
	// duration overrides the requested duration; it may only shorten it or
	// stay within the maximum.
	Duration *metav1.Duration
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Denial is posted to accessrequests/deny.
type Denial struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// reason for the denial (required).
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Revocation is posted to accessrequests/revoke.
type Revocation struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// reason for the revocation (required).
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Withdrawal is posted to accessrequests/withdraw by the requester.
type Withdrawal struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// reason for the withdrawal.
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Extension is posted to accessrequests/extend.
type Extension struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// duration to add to expiresAt.
	Duration metav1.Duration
	// reason for the extension (required).
	Reason string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestExecOptions are the query parameters of accessrequests/exec.
type AccessRequestExecOptions struct {
	metav1.TypeMeta

	// namespace of the pod; must be one of the request's namespaces.
	Namespace string
	// pod to exec into.
	Pod string
	// container in the pod; defaults to the only or default container.
	Container string
	// command to run.
	Command []string
	// stdin attaches standard input.
	Stdin bool
	// stdout attaches standard output.
	Stdout bool
	// stderr attaches standard error.
	Stderr bool
	// tty allocates a terminal.
	TTY bool
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestLogOptions are the query parameters of accessrequests/log.
type AccessRequestLogOptions struct {
	metav1.TypeMeta

	// namespace of the pod; must be one of the request's namespaces.
	Namespace string
	// pod whose logs are read.
	Pod string
	// container in the pod.
	Container string
	// follow streams new log lines.
	Follow bool
	// previous returns the logs of the previous container instance.
	Previous bool
	// sinceSeconds limits the logs to the last seconds.
	SinceSeconds *int64
	// timestamps prefixes each line with its RFC3339 timestamp.
	Timestamps bool
	// tailLines limits the output to the last lines.
	TailLines *int64
	// limitBytes limits the output in bytes.
	LimitBytes *int64
}

// RequestLabel names, on a Session, the AccessRequest it ran under (when
// the request's name fits a label value; spec.request always holds it).
const RequestLabel = "janus.infroware.io/request"

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Session is the audit record of one exec session. Only Janus writes it:
// before the first byte flows, and when the session ends.
type Session struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	Spec   SessionSpec
	Status SessionStatus
}

// SessionSpec is who ran what where, under which request.
type SessionSpec struct {
	// request is the AccessRequest the session ran under.
	Request string
	// cluster is the request's cluster.
	Cluster string
	// namespace and pod the session ran in.
	Namespace string
	Pod       string
	// container the session ran in; empty for the pod's default.
	Container string
	// command that was run.
	Command []string
	// tty is true for a terminal session.
	TTY bool
	// user who ran it, as authenticated.
	User SessionUser
}

// SessionUser is the authenticated identity that ran a session.
type SessionUser struct {
	Username string
	UID      string
}

// SessionPhase is whether a session is open.
type SessionPhase string

const (
	SessionOpen   SessionPhase = "Open"
	SessionClosed SessionPhase = "Closed"
)

// SessionStatus is how the session went.
type SessionStatus struct {
	// phase is Open while the session runs, then Closed.
	Phase SessionPhase
	// startedAt is when the session opened; endedAt when it closed.
	StartedAt *metav1.Time
	EndedAt   *metav1.Time
	// bytesIn and bytesOut count the stream's payload from and to the user.
	BytesIn  int64
	BytesOut int64
	// endReason says why the session ended, as people read it.
	EndReason string
	// server names the janus-apiserver replica that relayed the session.
	Server string
	// recording is where the session's recording is and its digest.
	Recording *SessionRecording
}

// SessionRecording describes a session's recording.
type SessionRecording struct {
	// format of the recording: asciicast-v2.
	Format string
	// size of the whole document in bytes.
	Size int64
	// sha256 is the hex SHA-256 of the whole document, set once the
	// recording is closed.
	SHA256 string
	// location is where the store keeps it (a directory or s3:// URL).
	Location string
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SessionList is a list of Sessions.
type SessionList struct {
	metav1.TypeMeta
	metav1.ListMeta

	Items []Session
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SessionTermination is posted to sessions/terminate.
type SessionTermination struct {
	metav1.TypeMeta
	metav1.ObjectMeta

	// reason is shown on the user's terminal (required).
	Reason string
}
