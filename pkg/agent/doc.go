// Package agent is what janus-agent does inside a target cluster: it turns
// the grant protocol of package tunnel (PUT and DELETE of grants, reconcile,
// info) into per-request ServiceAccounts and RoleBindings of the shipped
// ClusterRole janus-grant, and keeps each grant's TokenRequest token in
// memory for the exec and log streams it will forward and the pods and
// Events it reads for the requester. It never writes a
// token to a Secret, a log or an answer, it never binds anything but
// janus-grant and binds that only while it holds exactly the fixed exec
// rules, and it never touches a namespace its own --excluded-namespaces
// forbid, whatever the central server asks.
package agent
