package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +genclient
// +genclient:nonNamespaced
// +genclient:method=Approve,verb=create,subresource=approve,input=Approval,result=AccessRequest
// +genclient:method=Deny,verb=create,subresource=deny,input=Denial,result=AccessRequest
// +genclient:method=Revoke,verb=create,subresource=revoke,input=Revocation,result=AccessRequest
// +genclient:method=Withdraw,verb=create,subresource=withdraw,input=Withdrawal,result=AccessRequest
// +genclient:method=Extend,verb=create,subresource=extend,input=Extension,result=AccessRequest
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequest asks for time-limited exec access to pods in some namespaces
// of one target cluster. It moves Pending → Approved → Active → Expired, or
// ends Denied, Withdrawn, Revoked or Failed.
type AccessRequest struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is what is asked for. It is immutable after creation.
	Spec AccessRequestSpec `json:"spec"`
	// status is maintained by Janus through the action subresources and the
	// lifecycle controller.
	// +optional
	Status AccessRequestStatus `json:"status,omitempty"`
}

// AccessRequestSpec is what a requester asks for.
type AccessRequestSpec struct {
	// cluster is the name of the Cluster object the access is for.
	Cluster string `json:"cluster"`
	// namespaces are the namespaces of the target cluster the access covers
	// (1 to 20 distinct DNS labels, none of them excluded).
	// +listType=set
	Namespaces []string `json:"namespaces"`
	// duration is how long the access lasts once it is active. Defaults to
	// 1h; bounded by the server's --min-duration/--max-duration and the
	// Cluster's maxDuration.
	// +optional
	Duration metav1.Duration `json:"duration,omitempty"`
	// reason says why the access is needed (required, at most 1024 characters).
	Reason string `json:"reason"`
	// requester is the identity that created the request. It is stamped by
	// the server from the authenticated user; whatever a client sends is
	// discarded.
	// +optional
	Requester UserInfo `json:"requester,omitempty"`
}

// UserInfo is an authenticated identity as the API server saw it.
type UserInfo struct {
	// username of the authenticated user.
	// +optional
	Username string `json:"username,omitempty"`
	// uid of the authenticated user.
	// +optional
	UID string `json:"uid,omitempty"`
	// groups the authenticated user belongs to.
	// +optional
	// +listType=atomic
	Groups []string `json:"groups,omitempty"`
	// extra attributes of the authenticated user.
	// +optional
	Extra map[string]ExtraValue `json:"extra,omitempty"`
}

// ExtraValue masks the value so protobuf can generate.
// +protobuf.nullable=true
// +protobuf.options.(gogoproto.goproto_stringer)=false
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
	// +optional
	Phase AccessRequestPhase `json:"phase,omitempty"`
	// conditions record each transition.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// approvals holds one entry per distinct approver.
	// +optional
	// +listType=atomic
	Approvals []Decision `json:"approvals,omitempty"`
	// requiredApprovals is the number of distinct approvals the request
	// needs, copied from its Cluster's spec.approval.required when it was
	// created, so that a later change of the Cluster does not change it.
	// Zero on requests created before it was recorded: their Cluster's
	// current policy applies.
	// +optional
	RequiredApprovals int32 `json:"requiredApprovals,omitempty"`
	// decision records who denied, revoked or withdrew the request.
	// +optional
	Decision *Decision `json:"decision,omitempty"`
	// extensions records each extension of an active request.
	// +optional
	// +listType=atomic
	Extensions []Decision `json:"extensions,omitempty"`
	// grantedDuration is the duration the grant is given when it becomes
	// active: spec.duration, or the shortest duration an approver set.
	// +optional
	GrantedDuration *metav1.Duration `json:"grantedDuration,omitempty"`
	// activatedAt is when the grant became live in the target cluster.
	// +optional
	ActivatedAt *metav1.Time `json:"activatedAt,omitempty"`
	// expiresAt is when the grant ends.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`
	// grants are the objects the agent created in the target cluster.
	// +optional
	// +listType=atomic
	Grants []Grant `json:"grants,omitempty"`
	// activeSessions counts the request's exec sessions open now.
	// +optional
	ActiveSessions int32 `json:"activeSessions,omitempty"`
	// totalSessions counts every exec session opened under the request;
	// each is a Session object.
	// +optional
	TotalSessions int32 `json:"totalSessions,omitempty"`
	// message is a human-readable explanation of the current phase.
	// +optional
	Message string `json:"message,omitempty"`
}

// Decision records one person's decision on a request.
type Decision struct {
	// user who decided.
	User string `json:"user"`
	// uid of the user who decided, as authenticated.
	// +optional
	UID string `json:"uid,omitempty"`
	// time of the decision.
	Time metav1.Time `json:"time"`
	// reason the user gave.
	// +optional
	Reason string `json:"reason,omitempty"`
	// duration the user set (approvals and extensions only).
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// Grant describes what the agent created in one namespace of the target cluster.
type Grant struct {
	// namespace the grant covers.
	Namespace string `json:"namespace"`
	// serviceAccount is namespace/name of the per-request ServiceAccount.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// role is the name of the (Cluster)Role the binding refers to.
	// +optional
	Role string `json:"role,omitempty"`
	// roleBinding is the name of the RoleBinding in the namespace.
	// +optional
	RoleBinding string `json:"roleBinding,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestList is a list of AccessRequests.
type AccessRequestList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []AccessRequest `json:"items"`
}

// +genclient
// +genclient:nonNamespaced
// +genclient:method=UpdateAgent,verb=update,subresource=agent
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Cluster registers a target cluster whose agent Janus trusts, and the
// policy for access to it.
type Cluster struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterSpec `json:"spec"`
	// +optional
	Status ClusterStatus `json:"status,omitempty"`
}

// ClusterSpec is the registration and access policy of a target cluster.
type ClusterSpec struct {
	// displayName is a human-friendly name.
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// agent says how the cluster's agent proves its identity. Whoever can
	// change it can become the cluster's agent, so after creation it changes
	// only through the clusters/agent subresource.
	// +optional
	Agent ClusterAgent `json:"agent,omitempty"`
	// excludedNamespaces may never be requested in this cluster, in addition
	// to the server's --excluded-namespaces.
	// +optional
	// +listType=set
	ExcludedNamespaces []string `json:"excludedNamespaces,omitempty"`
	// maxDuration caps the duration of requests for this cluster below the
	// server's --max-duration.
	// +optional
	MaxDuration *metav1.Duration `json:"maxDuration,omitempty"`
	// approval is the approval policy.
	// +optional
	Approval ApprovalPolicy `json:"approval,omitempty"`
	// console is what the web console offers for this cluster.
	// +optional
	Console ClusterConsole `json:"console,omitempty"`
}

// ClusterConsole is what the web console offers for a cluster.
type ClusterConsole struct {
	// quickCommands are one-click commands shared by everyone who opens a
	// terminal in this cluster (at most 20, names unique). Atomic, so that
	// a duplicate name is validation's 422 rather than server-side apply's
	// refusal to merge.
	// +optional
	// +listType=atomic
	QuickCommands []QuickCommand `json:"quickCommands,omitempty"`
}

// QuickCommand is a named command the console's terminal types for the user.
type QuickCommand struct {
	// name is the button's label: printable text on one line, at most 32
	// characters.
	Name string `json:"name"`
	// command is the line typed into the shell: printable text on one line,
	// at most 1024 characters.
	Command string `json:"command"`
}

// ClusterAgent identifies the agent of a target cluster: a projected
// ServiceAccount token from that cluster's issuer.
type ClusterAgent struct {
	// issuer is the target cluster's ServiceAccount token issuer.
	// +optional
	Issuer string `json:"issuer,omitempty"`
	// jwks is the issuer's JSON Web Key Set document. When empty it is
	// fetched through OIDC discovery from the issuer.
	// +optional
	JWKS string `json:"jwks,omitempty"`
	// serviceAccount is namespace/name of the agent's ServiceAccount.
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// ApprovalPolicy says how many approvals a request needs.
type ApprovalPolicy struct {
	// required is the number of distinct approvers needed (default 1).
	// +optional
	Required int32 `json:"required,omitempty"`
}

// ClusterStatus is reported by the cluster's agent.
type ClusterStatus struct {
	// agent describes the connection of the agent.
	// +optional
	Agent AgentStatus `json:"agent,omitempty"`
	// namespaces of the target cluster that may be requested.
	// +optional
	// +listType=set
	Namespaces []string `json:"namespaces,omitempty"`
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AgentStatus describes an agent's connection.
type AgentStatus struct {
	// connected is true while the agent's tunnel is open.
	// +optional
	Connected bool `json:"connected,omitempty"`
	// lastSeen is when the agent was last heard from.
	// +optional
	LastSeen *metav1.Time `json:"lastSeen,omitempty"`
	// version of the agent.
	// +optional
	Version string `json:"version,omitempty"`
	// kubernetesVersion of the target cluster.
	// +optional
	KubernetesVersion string `json:"kubernetesVersion,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// ClusterList is a list of Clusters.
type ClusterList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Cluster `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Approval is posted to accessrequests/approve.
type Approval struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// reason for the approval.
	// +optional
	Reason string `json:"reason,omitempty"`
	// duration overrides the requested duration; it may only shorten it or
	// stay within the maximum.
	// +optional
	Duration *metav1.Duration `json:"duration,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Denial is posted to accessrequests/deny.
type Denial struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// reason for the denial (required).
	Reason string `json:"reason"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Revocation is posted to accessrequests/revoke.
type Revocation struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// reason for the revocation (required).
	Reason string `json:"reason"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Withdrawal is posted to accessrequests/withdraw by the requester.
type Withdrawal struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// reason for the withdrawal.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Extension is posted to accessrequests/extend.
type Extension struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// duration to add to expiresAt.
	Duration metav1.Duration `json:"duration"`
	// reason for the extension (required).
	Reason string `json:"reason"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestExecOptions are the query parameters of accessrequests/exec.
type AccessRequestExecOptions struct {
	metav1.TypeMeta `json:",inline"`

	// namespace of the pod; must be one of the request's namespaces.
	Namespace string `json:"namespace"`
	// pod to exec into.
	Pod string `json:"pod"`
	// container in the pod; defaults to the only or default container.
	// +optional
	Container string `json:"container,omitempty"`
	// command to run.
	// +listType=atomic
	Command []string `json:"command"`
	// stdin attaches standard input.
	// +optional
	Stdin bool `json:"stdin,omitempty"`
	// stdout attaches standard output.
	// +optional
	Stdout bool `json:"stdout,omitempty"`
	// stderr attaches standard error.
	// +optional
	Stderr bool `json:"stderr,omitempty"`
	// tty allocates a terminal.
	// +optional
	TTY bool `json:"tty,omitempty"`
}

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// AccessRequestLogOptions are the query parameters of accessrequests/log.
type AccessRequestLogOptions struct {
	metav1.TypeMeta `json:",inline"`

	// namespace of the pod; must be one of the request's namespaces.
	Namespace string `json:"namespace"`
	// pod whose logs are read.
	Pod string `json:"pod"`
	// container in the pod.
	// +optional
	Container string `json:"container,omitempty"`
	// follow streams new log lines.
	// +optional
	Follow bool `json:"follow,omitempty"`
	// previous returns the logs of the previous container instance.
	// +optional
	Previous bool `json:"previous,omitempty"`
	// sinceSeconds limits the logs to the last seconds.
	// +optional
	SinceSeconds *int64 `json:"sinceSeconds,omitempty"`
	// timestamps prefixes each line with its RFC3339 timestamp.
	// +optional
	Timestamps bool `json:"timestamps,omitempty"`
	// tailLines limits the output to the last lines.
	// +optional
	TailLines *int64 `json:"tailLines,omitempty"`
	// limitBytes limits the output in bytes.
	// +optional
	LimitBytes *int64 `json:"limitBytes,omitempty"`
}

// RequestLabel names, on a Session, the AccessRequest it ran under (when
// the request's name fits a label value; spec.request always holds it).
const RequestLabel = "janus.infroware.io/request"

// +genclient
// +genclient:nonNamespaced
// +genclient:onlyVerbs=get,list,watch
// +genclient:method=Terminate,verb=create,subresource=terminate,input=SessionTermination,result=Session
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// Session is the audit record of one exec session. Only Janus writes it:
// before the first byte flows, and when the session ends. It is kept for
// the server's --session-retention, whatever becomes of its request.
type Session struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SessionSpec `json:"spec"`
	// +optional
	Status SessionStatus `json:"status,omitempty"`
}

// SessionSpec is who ran what where, under which request.
type SessionSpec struct {
	// request is the AccessRequest the session ran under.
	Request string `json:"request"`
	// cluster is the request's cluster.
	Cluster string `json:"cluster"`
	// namespace the session ran in.
	Namespace string `json:"namespace"`
	// pod the session ran in.
	Pod string `json:"pod"`
	// container the session ran in; empty for the pod's default.
	// +optional
	Container string `json:"container,omitempty"`
	// command that was run.
	// +optional
	// +listType=atomic
	Command []string `json:"command,omitempty"`
	// tty is true for a terminal session.
	// +optional
	TTY bool `json:"tty,omitempty"`
	// user who ran it, as authenticated.
	User SessionUser `json:"user"`
}

// SessionUser is the authenticated identity that ran a session.
type SessionUser struct {
	// username as authenticated.
	Username string `json:"username"`
	// uid as authenticated.
	// +optional
	UID string `json:"uid,omitempty"`
}

// SessionPhase is whether a session is open.
type SessionPhase string

const (
	// SessionOpen is a session that runs.
	SessionOpen SessionPhase = "Open"
	// SessionClosed is a session that ended.
	SessionClosed SessionPhase = "Closed"
)

// SessionStatus is how the session went.
type SessionStatus struct {
	// phase is Open while the session runs, then Closed.
	// +optional
	Phase SessionPhase `json:"phase,omitempty"`
	// startedAt is when the session opened.
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// endedAt is when the session closed.
	// +optional
	EndedAt *metav1.Time `json:"endedAt,omitempty"`
	// bytesIn counts the stream's payload from the user.
	// +optional
	BytesIn int64 `json:"bytesIn,omitempty"`
	// bytesOut counts the stream's payload to the user.
	// +optional
	BytesOut int64 `json:"bytesOut,omitempty"`
	// endReason says why the session ended, as people read it.
	// +optional
	EndReason string `json:"endReason,omitempty"`
	// server names the janus-apiserver replica that relayed the session.
	// +optional
	Server string `json:"server,omitempty"`
	// recording is where the session's recording is and its digest.
	// +optional
	Recording *SessionRecording `json:"recording,omitempty"`
}

// SessionRecording describes a session's recording.
type SessionRecording struct {
	// format of the recording: asciicast-v2.
	Format string `json:"format"`
	// size of the whole document in bytes.
	// +optional
	Size int64 `json:"size,omitempty"`
	// sha256 is the hex SHA-256 of the whole document, set once the
	// recording is closed.
	// +optional
	SHA256 string `json:"sha256,omitempty"`
	// location is where the store keeps it (a directory or s3:// URL).
	// +optional
	Location string `json:"location,omitempty"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SessionList is a list of Sessions.
type SessionList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`

	Items []Session `json:"items"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// SessionTermination is posted to sessions/terminate: it cuts that one
// session, with the reason on the user's terminal.
type SessionTermination struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// reason is shown on the user's terminal (required, at most 1024
	// characters).
	Reason string `json:"reason"`
}
