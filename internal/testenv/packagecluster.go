package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// PackageCluster is one etcd and kube-apiserver shared by the tests of a
// package: the first test that calls Get starts it, and the package's
// TestMain stops it through Main. Tests keep apart by using namespaces and
// names of their own.
type PackageCluster struct {
	// Name says what the cluster is for, in its temporary directory's
	// name and in what Main prints.
	Name string
	// Prepare, if set, runs once after the cluster started, e.g. to create
	// namespaces or CRDs every test needs.
	Prepare func(context.Context, *BareCluster) error

	once sync.Once
	c    *BareCluster
	dir  string
	err  error
}

// TB is what Get needs of a test: testing.TB's Helper and Fatalf.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Get returns the running cluster, starting it on the first call; a
// cluster that failed to start fails every test that asks for it.
func (p *PackageCluster) Get(t TB) *BareCluster {
	t.Helper()
	p.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		p.err = p.start(ctx)
	})
	if p.err != nil {
		t.Fatalf("starting the %s (etcd, kube-apiserver): %v", p.Name, p.err)
	}
	return p.c
}

func (p *PackageCluster) start(ctx context.Context) error {
	root, err := FindRepoRoot(".")
	if err != nil {
		return err
	}
	binDir, err := UpstreamBinDir(ctx, root, io.Discard)
	if err != nil {
		return err
	}
	if p.dir, err = os.MkdirTemp("", "janus-"+sanitizeName(p.Name)+"-"); err != nil {
		return fmt.Errorf("making the %s's directory: %w", p.Name, err)
	}
	begin := time.Now()
	if p.c, err = StartBareCluster(ctx, binDir, p.dir); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s (etcd, kube-apiserver) started in %s\n", p.Name, time.Since(begin).Round(10*time.Millisecond))
	if p.Prepare != nil {
		if err := p.Prepare(ctx, p.c); err != nil {
			return fmt.Errorf("preparing the %s: %w", p.Name, err)
		}
	}
	return nil
}

// Main runs the package's tests, stops the cluster if one was started,
// and exits with the tests' code. The cluster's directory is removed
// after a passing run and kept, with its logs, otherwise.
func (p *PackageCluster) Main(run func() int) {
	code := run()
	if p.c != nil {
		if err := p.c.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the %s: %v\n", p.Name, err)
		}
	}
	if p.dir != "" {
		if code == 0 && p.err == nil {
			os.RemoveAll(p.dir)
		} else {
			fmt.Fprintf(os.Stderr, "%s logs kept in %s\n", p.Name, filepath.Join(p.dir, "logs"))
		}
	}
	os.Exit(code)
}

// sanitizeName keeps letters, digits and dashes of s for a file name.
func sanitizeName(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	return string(out)
}
