package testenv

import (
	"os/exec"
	"strings"
	"testing"
)

// TestProductionBinariesDoNotImportTestenv keeps the test environment out
// of what ships.
func TestProductionBinariesDoNotImportTestenv(t *testing.T) {
	repoRoot, err := FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	const self = modulePath + "/internal/testenv"
	for _, binary := range []string{"./cmd/janus-apiserver", "./cmd/janus-agent", "./cmd/kubectl-janus", "./cmd/janus-console"} {
		cmd := exec.Command("go", "list", "-deps", binary)
		cmd.Dir = repoRoot
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", binary, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == self || strings.HasPrefix(dep, self+"/") {
				t.Errorf("%s imports %s, which is test infrastructure", binary, dep)
			}
		}
	}
}
