package console

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/infroware/janus/internal/consoleenv"
	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/console/testprovider"
)

// Every demo user's password at the test provider is <name>-password.
const passwordSuffix = consoleenv.PasswordSuffix

var (
	bed      *testenv.Testbed
	repoRoot string
	// consoleURL is http://localhost:<port>, a secure context, so
	// Chromium keeps the console's Secure __Host- cookies over HTTP.
	consoleURL string
	provider   *testprovider.Provider
	// primary is the console the browsers use; tests start replicas of it.
	primary *consoleenv.Console
	// binaries are those bed runs, for testbeds of a test's own.
	binaries testenv.Binaries
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	begin := time.Now()
	var err error
	if repoRoot, err = testenv.FindRepoRoot("."); err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		return 1
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		fmt.Fprintf(os.Stderr, "console: headless Chromium is missing (%v); run hack/ensure-chromium.sh\n", err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	binaries, err = testenv.BuildBinaries(ctx, repoRoot, filepath.Join(repoRoot, "_output", "console", "bin"), os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: building the binaries: %v\n", err)
		return 1
	}
	workDir, err := os.MkdirTemp("", "janus-console-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: %v\n", err)
		return 1
	}
	defer os.RemoveAll(workDir)

	bed, err = testenv.StartTestbed(ctx, testenv.TestbedConfig{
		WorkDir: workDir, RepoRoot: repoRoot, Binaries: binaries, Progress: os.Stderr,
		Targets: []testenv.TargetSpec{{Name: "dev"}},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: starting the testbed: %v\n", err)
		return 1
	}
	defer func() {
		if err := bed.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "console: stopping the testbed: %v\n", err)
		}
	}()

	console, err := consoleenv.Start(ctx, bed, consoleenv.Config{RepoRoot: repoRoot, WorkDir: workDir})
	if err != nil {
		fmt.Fprintf(os.Stderr, "console: starting the console: %v\n", err)
		return 1
	}
	defer func() {
		if err := console.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "console: stopping the console: %v\n", err)
		}
	}()
	consoleURL, provider, primary = console.URL, console.Provider, console
	fmt.Fprintf(os.Stderr, "console: ready after %s (console %s, provider %s)\n", time.Since(begin).Round(10*time.Millisecond), consoleURL, provider.Issuer)
	code := m.Run()
	fmt.Fprintf(os.Stderr, "console: whole run %s\n", time.Since(begin).Round(10*time.Millisecond))
	return code
}
