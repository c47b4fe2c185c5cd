package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// modulePath identifies the Janus repository by its go.mod.
const modulePath = "github.com/infroware/janus"

// Binaries are the programs a testbed runs.
type Binaries struct {
	Etcd                  string `json:"etcd"`
	KubeAPIServer         string `json:"kubeAPIServer"`
	KubeControllerManager string `json:"kubeControllerManager"`
	Kubectl               string `json:"kubectl"`
	JanusAPIServer        string `json:"janusAPIServer"`
	JanusAgent            string `json:"janusAgent"`
	Kwok                  string `json:"kwok"`
	// KwokStages is kwok's "fast" stage set (node and pod lifecycle).
	KwokStages string `json:"kwokStages"`
}

// UpstreamBinaries are the binaries hack/testbin.sh leaves in binDir.
func UpstreamBinaries(binDir string) Binaries {
	return Binaries{
		Etcd:                  filepath.Join(binDir, "etcd"),
		KubeAPIServer:         filepath.Join(binDir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(binDir, "kube-controller-manager"),
		Kubectl:               filepath.Join(binDir, "kubectl"),
		Kwok:                  filepath.Join(binDir, "kwok"),
		KwokStages:            filepath.Join(binDir, "..", "kwok-stages", "fast.yaml"),
	}
}

func (b Binaries) validate() error {
	var errs []error
	for name, path := range map[string]string{
		"etcd": b.Etcd, "kube-apiserver": b.KubeAPIServer, "kube-controller-manager": b.KubeControllerManager,
		"kubectl": b.Kubectl, "janus-apiserver": b.JanusAPIServer, "janus-agent": b.JanusAgent, "kwok": b.Kwok,
	} {
		if path == "" {
			errs = append(errs, fmt.Errorf("testbed: no binary given for %s", name))
			continue
		}
		if info, err := os.Stat(path); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("testbed: %s is not an executable at %s", name, path))
		}
	}
	return errors.Join(errs...)
}

// BuildBinaries makes sure every binary exists: the upstream ones through
// hack/testbin.sh (cached; a cold build takes about ten minutes), and
// janus-apiserver from the working tree into janusDir, so the testbed always
// runs the code being tested. Progress goes to progress.
func BuildBinaries(ctx context.Context, repoRoot, janusDir string, progress io.Writer) (Binaries, error) {
	begin := time.Now()
	binDir, err := UpstreamBinDir(ctx, repoRoot, progress)
	if err != nil {
		return Binaries{}, err
	}
	bins := UpstreamBinaries(binDir)
	fmt.Fprintf(progress, "testbed: upstream binaries in %s (%s)\n", binDir, time.Since(begin).Round(10*time.Millisecond))

	begin = time.Now()
	if err := os.MkdirAll(janusDir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("creating %s: %w", janusDir, err)
	}
	bins.JanusAPIServer = filepath.Join(janusDir, "janus-apiserver")
	bins.JanusAgent = filepath.Join(janusDir, "janus-agent")
	build := exec.CommandContext(ctx, "go", "build", "-o", janusDir+"/", "./cmd/janus-apiserver", "./cmd/janus-agent", "./cmd/kubectl-janus")
	build.Dir = repoRoot
	build.Stdout, build.Stderr = progress, progress
	done := longStep(progress, "building janus-apiserver, janus-agent and kubectl-janus from the working tree", "about 3.5 minutes with a cold Go cache on 2 cores")
	err = build.Run()
	done()
	if err != nil {
		return Binaries{}, fmt.Errorf("building janus-apiserver and janus-agent (go build ./cmd/janus-apiserver ./cmd/janus-agent in %s): %w", repoRoot, err)
	}
	fmt.Fprintf(progress, "testbed: built %s and %s (%s)\n", bins.JanusAPIServer, bins.JanusAgent, time.Since(begin).Round(10*time.Millisecond))
	return bins, bins.validate()
}

// UpstreamBinDir runs hack/testbin.sh of the repository at repoRoot, which
// builds the upstream binaries once and caches them, and returns their
// directory: the last line the script prints. Its progress goes to
// progress, and the end of it into the error if it fails.
func UpstreamBinDir(ctx context.Context, repoRoot string, progress io.Writer) (string, error) {
	script := filepath.Join(repoRoot, "hack", "testbin.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Dir = repoRoot
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(progress, &stderr)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building kube-apiserver, kube-controller-manager, kubectl, etcd and kwok with %s (a cold build takes about 10 minutes): %w\n--- last lines of its output ---\n%s",
			script, err, lastLines(stderr.String(), logTailLines))
	}
	var last string
	for sc := bufio.NewScanner(&stdout); sc.Scan(); {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			last = line
		}
	}
	if last == "" {
		return "", fmt.Errorf("%s printed no binary directory", script)
	}
	return last, nil
}

// FindRepoRoot walks up from dir to the directory whose go.mod declares the
// Janus module.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declaresModule(data, modulePath) {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod of module %s in %s or above it", modulePath, dir)
		}
	}
}

func declaresModule(gomod []byte, module string) bool {
	for sc := bufio.NewScanner(bytes.NewReader(gomod)); sc.Scan(); {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == module
		}
	}
	return false
}
