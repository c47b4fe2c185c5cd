// Package session is the REST storage of Session objects, the audit record
// of each exec session. People read them (get, list, watch, with field
// selectors on request, cluster, user and phase); only Janus writes them,
// through Store, which the API does not serve: there is no create, update
// or delete verb for RBAC to grant.
package session
