package kubectljanus

import (
	"strings"
	"testing"
)

func TestNamePrefixSaysWhoseRequestItIs(t *testing.T) {
	cases := map[string]string{
		"alice":                             "alice-",
		"Alice.Smith@example.com":           "alice-smith-",
		"system:serviceaccount:ci:deployer": "ci-deployer-",
		"@@@":                               "req-",
		"":                                  "req-",
		strings.Repeat("a", 60):             strings.Repeat("a", 40) + "-",
	}
	for user, want := range cases {
		if got := namePrefixFor(user); got != want {
			t.Errorf("namePrefixFor(%q) = %q, want %q", user, got, want)
		}
	}
}
