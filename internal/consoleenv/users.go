package consoleenv

import (
	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/testprovider"
)

// PasswordSuffix makes a demo user's password at the provider:
// "alice" signs in with "alice-password". Demo only.
const PasswordSuffix = "-password"

// EmailDomain is the domain of the demo users' e-mail addresses, the only
// one the console lets in.
const EmailDomain = "janus.example"

// DemoUserNames are the testbed's demo users who sign in to the console;
// admin has a kubeconfig only.
var DemoUserNames = []string{"alice", "bob", "carol", "dave"}

// DemoUsers are the testbed's demo users as the provider knows them: the
// same names, UIDs (as sub) and groups as their kubeconfigs, so the console
// impersonates exactly whom kubectl authenticates.
func DemoUsers() []testprovider.User {
	var users []testprovider.User
	for _, name := range DemoUserNames {
		u, ok := testenv.UserNamed(name)
		if !ok {
			continue
		}
		users = append(users, testprovider.User{
			Username: u.Name, Password: u.Name + PasswordSuffix, Subject: u.UID,
			Email: u.Name + "@" + EmailDomain, Groups: u.Groups,
		})
	}
	return users
}
