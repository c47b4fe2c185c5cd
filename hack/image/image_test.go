package main

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"io"
	"iter"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestJanusAPIServerImage builds the janus-apiserver image as `make image`
// does and checks what a cluster running it relies on.
func TestJanusAPIServerImage(t *testing.T) {
	archive := janusAPIServerArchive(t)
	// The image's own checks get their time once it is built: a cold
	// build on two loaded cores takes minutes of its own.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	img, annotations := readArchive(t, archive)
	if err := validate.Image(img); err != nil {
		t.Errorf("the image does not hold together (digests, diff IDs, sizes): %v", err)
	}
	if got := annotations["org.opencontainers.image.ref.name"]; got != "ghcr.io/infroware/janus-apiserver:v0.0.0-imagetest" {
		t.Errorf("ref.name = %q", got)
	}

	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("user = %q, want 65532:65532 (nonroot)", cfg.Config.User)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/usr/local/bin/janus-apiserver" || len(cfg.Config.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want the binary alone so that a Deployment's args are its flags", got, cfg.Config.Cmd)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  "v0.0.0-imagetest",
		"org.opencontainers.image.revision": "0123456789abcdef",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  "2026-12-01T00:00:00Z",
	} {
		if cfg.Config.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, cfg.Config.Labels[k], want)
		}
	}

	files := layerFiles(t, img)
	var shells []string
	for name := range files {
		if regexp.MustCompile(`^(bin|sbin|usr/bin|usr/sbin)/|(^|/)(sh|bash|ash|dash|busybox)$`).MatchString(name) {
			shells = append(shells, name)
		}
	}
	if len(shells) > 0 {
		t.Errorf("the image has a shell or system binaries: %v", shells)
	}
	for _, want := range []string{"etc/ssl/certs/ca-certificates.crt", "etc/passwd", "etc/group", "tmp/"} {
		if _, ok := files[want]; !ok {
			t.Errorf("the image lacks %s", want)
		}
	}
	if passwd := string(files["etc/passwd"].content); !strings.Contains(passwd, "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd does not name 65532 nonroot:\n%s", passwd)
	}
	bin, ok := files["usr/local/bin/janus-apiserver"]
	if !ok {
		t.Fatalf("the image lacks its entrypoint; it has %v", keys(files))
	}
	if bin.header.Uid != 0 || bin.header.Mode&0o022 != 0 {
		t.Errorf("the binary is uid %d mode %o: the process could rewrite it", bin.header.Uid, bin.header.Mode)
	}

	binary := filepath.Join(t.TempDir(), "janus-apiserver")
	if err := os.WriteFile(binary, bin.content, 0o755); err != nil {
		t.Fatal(err)
	}
	assertStatic(t, binary)
	out, err := exec.CommandContext(ctx, binary, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("janus-apiserver --version from the image: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "janus-apiserver v0.0.0-imagetest (commit 0123456789abcdef, built 2026-12-01T00:00:00Z,") {
		t.Errorf("janus-apiserver --version printed %q: the build is not stamped", out)
	}

	// Without cgo, kine's SQLite is modernc.org/sqlite: the static binary
	// must still create and open its database. It starts the datastore
	// before it needs a kube-apiserver, then stops for want of one.
	dataDir := t.TempDir()
	run := exec.CommandContext(ctx, binary, "--data-dir="+dataDir, "--leader-elect=false", "--secure-port=0")
	run.Env = []string{"HOME=" + t.TempDir()}
	out, _ = run.CombinedOutput()
	for _, want := range []string{"modernc.org/sqlite", `"Started embedded kine" backend="sqlite"`, "delegated authentication kubeconfig"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the static janus-apiserver without a cluster did not log %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dataDir, "janus.db")); err != nil {
		t.Errorf("the static janus-apiserver created no SQLite database: %v", err)
	}
}

// TestArtifactsNameTheImagesMakeImageBuilds: the Deployments in artifacts/
// pull <repository>/<name> for the names and default repository of
// `make image`.
func TestArtifactsNameTheImagesMakeImageBuilds(t *testing.T) {
	root := repoRoot()
	for dir, name := range map[string]string{"central": "janus-apiserver", "agent": "janus-agent", "console": "janus-console"} {
		data, err := os.ReadFile(filepath.Join(root, "artifacts", dir, "deployment.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^\s+image:\s*(\S+?):(\S+)$`).FindStringSubmatch(string(data))
		if m == nil {
			t.Fatalf("artifacts/%s/deployment.yaml names no image", dir)
		}
		if want := "ghcr.io/infroware/" + name; m[1] != want {
			t.Errorf("artifacts/%s/deployment.yaml pulls %s, but make image builds %s", dir, m[1], want)
		}
		if _, ok := binaries[name]; !ok {
			t.Errorf("hack/image cannot build %s", name)
		}
	}
}

// assertStatic fails unless path is an ELF executable that needs no
// dynamic loader and no shared library: it runs on an empty base.
func assertStatic(t *testing.T, path string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("reading the binary as ELF: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %s program header: it is dynamically linked", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err == nil && len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
}

// readArchive unpacks an OCI archive and returns its one image and the
// annotations of its entry in index.json.
func readArchive(t *testing.T, archive string) (v1.Image, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, e := range tarEntries(t, f) {
		target := filepath.Join(dir, filepath.FromSlash(path.Clean(name)))
		if e.header.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(target, e.content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading the OCI layout in %s: %v", archive, err)
	}
	m, err := index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want the one image", len(m.Manifests))
	}
	img, err := index.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, m.Manifests[0].Annotations
}

type layerFile struct {
	header  *tar.Header
	content []byte
}

// tarEntries reads a whole tar stream, in order; a directory comes
// before what it holds, as the writers here put them.
func tarEntries(t *testing.T, r io.Reader) iter.Seq2[string, layerFile] {
	t.Helper()
	var entries []layerFile
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading a tar stream: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", h.Name, err)
		}
		entries = append(entries, layerFile{header: h, content: data})
	}
	return func(yield func(string, layerFile) bool) {
		for _, e := range entries {
			if !yield(e.header.Name, e) {
				return
			}
		}
	}
}

// layerFiles is every file of every layer, by path, the upper layer's
// winning.
func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]layerFile{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		for name, e := range tarEntries(t, rc) {
			files[name] = e
		}
		rc.Close()
	}
	return files
}

func keys(m map[string]layerFile) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
