package e2e

import (
	"strings"
	"testing"
)

// TestClusterQuickCommandsApplyAndAreValidated: a Cluster's shared quick
// commands are applied as DESIGN.md writes them and read back; one that
// would type a second line into a pod's shell is refused with its field
// path and changes nothing.
func TestClusterQuickCommandsApplyAndAreValidated(t *testing.T) {
	t.Parallel()
	manifest := writeFile(t, "cluster.yaml", `apiVersion: janus.infroware.io/v1alpha1
kind: Cluster
metadata:
  name: e2e-quick-commands
spec:
  approval:
    required: 1
  console:
    quickCommands:
    - {name: "top", command: "top -b -n1"}
    - {name: "disk usage", command: "df -h"}
`)
	mustKubectl(t, "admin", "apply", "--server-side", "-f", manifest)
	t.Cleanup(func() { kubectl(t, "admin", "delete", "-f", manifest, "--ignore-not-found") })
	got := mustKubectl(t, "admin", "get", "clusters.janus.infroware.io", "e2e-quick-commands", "-o", `jsonpath={range .spec.console.quickCommands[*]}{.name}={.command};{end}`)
	if got != "top=top -b -n1;disk usage=df -h;" {
		t.Errorf("quick commands read back as %q", got)
	}

	bad := writeFile(t, "bad.yaml", `apiVersion: janus.infroware.io/v1alpha1
kind: Cluster
metadata:
  name: e2e-quick-commands
spec:
  approval:
    required: 1
  console:
    quickCommands:
    - {name: "top", command: "top -b -n1\nrm -rf /data"}
    - {name: "top", command: "htop"}
`)
	expectFailure(t, kubectl(t, "admin", "apply", "--server-side", "-f", bad), "is invalid",
		"spec.console.quickCommands[0].command: Invalid value", "no control characters",
		`spec.console.quickCommands[1].name: Duplicate value: "top"`)
	got = mustKubectl(t, "admin", "get", "clusters.janus.infroware.io", "e2e-quick-commands", "-o", `jsonpath={.spec.console.quickCommands[0].command}`)
	if strings.Contains(got, "rm") {
		t.Errorf("the refused change was applied: %q", got)
	}
}
