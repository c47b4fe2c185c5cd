package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// options say what to build and how to stamp it.
type options struct {
	OutDir     string
	Repository string
	Version    string
	Commit     string
	Created    time.Time
	Platforms  []platform
	CABundle   string
}

type platform struct{ OS, Arch string }

func (p platform) String() string { return p.OS + "/" + p.Arch }

// ldflags stamp the build into pkg/version (and into pkg/agent.Version,
// which janus-agent still reports to janus-apiserver) and drop the symbol
// table and DWARF, which only debuggers read; stack traces keep their
// function names and lines.
func ldflags(o options) string {
	const v = "github.com/infroware/janus/pkg/version."
	return strings.Join([]string{
		"-s", "-w",
		"-X", v + "gitVersion=" + o.Version,
		"-X", v + "gitCommit=" + o.Commit,
		"-X", v + "buildDate=" + o.Created.Format(time.RFC3339),
		"-X", "github.com/infroware/janus/pkg/agent.Version=" + o.Version,
	}, " ")
}

// buildBinary builds ./cmd/<name> for p into dir and returns its path. The
// build is static: CGO_ENABLED=0, so janus-apiserver's SQLite is kine's
// pure-Go driver (modernc.org/sqlite) rather than the cgo one `go build`
// links by default.
func buildBinary(ctx context.Context, o options, name string, p platform, dir string) (string, error) {
	out := filepath.Join(dir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false",
		"-ldflags", ldflags(o), "-o", out, "./cmd/"+name)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building %s for %s: %w", name, p, err)
	}
	return out, nil
}

// repoRoot is where go.mod is: `go run ./hack/image` runs there, and the
// test runs in hack/image.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
