package charts

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/infroware/janus/internal/testenv"
)

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// repoRoot is the Janus checkout the charts are in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// helmBinary builds (or finds cached) the pinned helm. A helm that cannot
// be built fails the test: the charts are not tested without it.
func helmBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	helmOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "ensure-helm.sh"))
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if helmErr = cmd.Run(); helmErr != nil {
			helmErr = &buildError{err: helmErr, output: stderr.String()}
			return
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		helmPath = strings.TrimSpace(lines[len(lines)-1])
	})
	if helmErr != nil {
		t.Fatalf("building helm with hack/ensure-helm.sh failed, so the charts cannot be tested (it needs the Go module proxy): %v", helmErr)
	}
	return helmPath
}

type buildError struct {
	err    error
	output string
}

func (e *buildError) Error() string {
	return e.err.Error() + "\n--- its output ---\n" + e.output
}

// runHelm runs helm in the repository and returns its stdout, stderr and
// error.
func runHelm(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), helmBinary(t), args...)
	cmd.Dir = repoRoot(t)
	// No kubeconfig of the caller's leaks in; helm template needs none.
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"), "HELM_CACHE_HOME="+t.TempDir(),
		"HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// render is `helm template` of chart into namespace with the values files
// (paths in the repository) and --set arguments, decoded.
func render(t *testing.T, chart, namespace string, valuesFiles []string, sets ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", filepath.Base(chart), chart, "--namespace", namespace}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	stdout, stderr, err := runHelm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	file := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(file, []byte(stdout), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, err := testenv.ReadManifests(file)
	if err != nil {
		t.Fatalf("decoding what helm %s rendered: %v", strings.Join(args, " "), err)
	}
	return objs
}

// rendered are the objects of one rendering, looked up by kind and name.
type rendered []*unstructured.Unstructured

func (r rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (r rendered) mustFind(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := r.find(kind, name)
	if o == nil {
		t.Fatalf("no %s %s rendered; got %s", kind, name, r.names())
	}
	return o
}

func (r rendered) names() string {
	var names []string
	for _, o := range r {
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	return strings.Join(names, ", ")
}

// containerArgs are the args of the Deployment's first container.
func (r rendered) containerArgs(t *testing.T, deployment string) []string {
	t.Helper()
	d := r.mustFind(t, "Deployment", deployment)
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if len(containers) == 0 {
		t.Fatalf("Deployment %s has no containers", deployment)
	}
	args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	return args
}
