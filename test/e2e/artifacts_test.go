package e2e

import (
	"strings"
	"testing"
)

// TestDeploymentManifestPassesServerDryRun keeps the manifest for real
// clusters valid, including against the namespace's Pod Security
// "restricted" level, which the testbed does not otherwise exercise.
func TestDeploymentManifestPassesServerDryRun(t *testing.T) {
	t.Parallel()
	res := kubectl(t, "admin", "apply", "--dry-run=server", "-f", repoFile("artifacts/central/deployment.yaml"))
	if res.err != nil {
		t.Fatalf("server-side dry run of artifacts/central/deployment.yaml: %v\n%s", res.err, res.output())
	}
	if !strings.Contains(res.stdout, "deployment.apps/janus-apiserver") {
		t.Errorf("dry run did not report the Deployment:\n%s", res.stdout)
	}
	if strings.Contains(res.stderr, "Warning") {
		t.Errorf("the Deployment draws warnings (Pod Security restricted?):\n%s", res.stderr)
	}
}

// TestServerSideApplyRegistersCluster: administrators keep Clusters in Git
// and apply them; server-side apply needs the server's schema of the kind.
func TestServerSideApplyRegistersCluster(t *testing.T) {
	t.Parallel()
	manifest := writeFile(t, "cluster.yaml", `apiVersion: janus.infroware.io/v1alpha1
kind: Cluster
metadata:
  name: e2e-staging
spec:
  displayName: Staging
  approval:
    required: 2
`)
	mustKubectl(t, "admin", "apply", "--server-side", "-f", manifest)
	t.Cleanup(func() { kubectl(t, "admin", "delete", "-f", manifest, "--ignore-not-found") })

	got := mustKubectl(t, "admin", "get", "clusters.janus.infroware.io", "e2e-staging", "-o", "jsonpath={.spec.displayName}/{.spec.approval.required}")
	if got != "Staging/2" {
		t.Errorf("applied Cluster has displayName/required %q, want Staging/2", got)
	}
	// Applying again changes nothing and conflicts with nobody.
	mustKubectl(t, "admin", "apply", "--server-side", "-f", manifest)
}
