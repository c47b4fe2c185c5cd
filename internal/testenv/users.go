package testenv

// User is a demo identity. It authenticates to the central kube-apiserver
// with a static bearer token; RBAC, through the ClusterRole bound to it,
// decides what it may do with Janus.
type User struct {
	Name   string
	UID    string
	Groups []string
	// ClusterRole is bound to the user by a ClusterRoleBinding; empty for
	// none. admin needs none: system:masters is bound to cluster-admin.
	ClusterRole string
	// Role says in a few words what the user may do, for people reading the
	// playground's help.
	Role string
}

// Users are the demo users, each with a distinct UID so that Janus can tell
// a re-created account from the original.
var Users = []User{
	{Name: "admin", UID: "6b1c0e3e-0000-4000-8000-000000000001", Groups: []string{"system:masters"}, Role: "cluster-admin"},
	{Name: "alice", UID: "6b1c0e3e-0000-4000-8000-000000000002", Groups: []string{"engineers"}, ClusterRole: "janus-requester", Role: "requests access"},
	{Name: "bob", UID: "6b1c0e3e-0000-4000-8000-000000000003", Groups: []string{"engineers"}, ClusterRole: "janus-approver-for-dev", Role: "approves for cluster dev only"},
	{Name: "carol", UID: "6b1c0e3e-0000-4000-8000-000000000004", Groups: []string{"sre"}, ClusterRole: "janus-approver", Role: "approves for every cluster"},
	{Name: "dave", UID: "6b1c0e3e-0000-4000-8000-000000000005", Groups: []string{"contractors"}, Role: "no Janus role"},
}

// UserNamed returns the demo user called name.
func UserNamed(name string) (User, bool) {
	for _, u := range Users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}
