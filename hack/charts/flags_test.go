package charts

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TestRenderedFlagsAreKnownToTheBinaries: every flag a Deployment of any
// combination passes is one that binary (built from this checkout) parses,
// so a renamed or missing flag fails here rather than in a crash-looping pod.
func TestRenderedFlagsAreKnownToTheBinaries(t *testing.T) {
	root := repoRoot(t)
	bin := t.TempDir()
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin+"/", "./cmd/janus-apiserver", "./cmd/janus-console", "./cmd/janus-agent")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the binaries: %v\n%s", err, out)
	}
	for _, comb := range combinations {
		for _, obj := range render(t, comb.chart, comb.namespace, comb.values, comb.sets...) {
			if obj.GetKind() != "Deployment" {
				continue
			}
			containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				name, _, _ := unstructured.NestedString(c.(map[string]any), "name")
				args, _, _ := unstructured.NestedStringSlice(c.(map[string]any), "args")
				// cobra parses every flag before it honours --help.
				cmd := exec.CommandContext(t.Context(), filepath.Join(bin, name), append(args, "--help")...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					t.Errorf("%s: %s does not take the rendered flags %q: %v\n%s", comb.name, name, args, err, stderr.String())
				}
			}
		}
	}
}
