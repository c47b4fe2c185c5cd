package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// binaries are the images this tool knows how to build, by name; each is
// built from ./cmd/<name>.
var binaries = map[string]string{
	"janus-apiserver": "Janus API server: just-in-time, time-limited kubectl exec access, served behind the Kubernetes aggregation layer",
	"janus-agent":     "Janus agent: provisions Janus grants in a target cluster and serves janus-apiserver through a tunnel it dials out",
	"janus-console":   "Janus web console: request and approve just-in-time exec access after OpenID Connect sign-in",
}

func main() {
	var o options
	var platforms, buildDate string
	flag.StringVar(&o.OutDir, "o", "_output/images", "Directory the OCI archives are written to, one <name>.tar each.")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/infroware", "Registry and namespace the images are named under: <repository>/<name>:<version>.")
	flag.StringVar(&o.Version, "version", "v0.0.0-dev", "Version stamped into the binaries and used as the image tag.")
	flag.StringVar(&o.Commit, "commit", "unknown", "Git commit stamped into the binaries and the images' labels.")
	flag.StringVar(&buildDate, "build-date", "", "Build date (RFC 3339) stamped into the binaries and used as every file's and the image's time; the commit's date makes builds reproducible. Default: now.")
	flag.StringVar(&platforms, "platforms", "linux/"+runtime.GOARCH, "Comma-separated os/arch list; more than one gives each archive an index of one image per platform.")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM file of the CA certificates the images trust.")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "Usage: go run ./hack/image [flags] [janus-apiserver janus-agent janus-console]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	o.Created = time.Now().UTC().Truncate(time.Second)
	if buildDate != "" {
		t, err := time.Parse(time.RFC3339, buildDate)
		if err != nil {
			fail(fmt.Errorf("parsing -build-date: %w", err))
		}
		o.Created = t.UTC()
	}
	for _, p := range strings.Split(platforms, ",") {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos != "linux" || goarch == "" {
			fail(fmt.Errorf("-platforms: %q is not linux/<arch>", p))
		}
		o.Platforms = append(o.Platforms, platform{OS: goos, Arch: goarch})
	}
	names := flag.Args()
	if len(names) == 0 {
		names = []string{"janus-apiserver", "janus-agent", "janus-console"}
	}
	for _, name := range names {
		if _, ok := binaries[name]; !ok {
			fail(fmt.Errorf("no image named %q; there are janus-apiserver, janus-agent and janus-console", name))
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, name := range names {
		start := time.Now()
		archive, err := buildImage(ctx, o, name)
		if err != nil {
			fail(err)
		}
		info, err := os.Stat(archive)
		if err != nil {
			fail(err)
		}
		fmt.Printf("image: %s:%s → %s (%.1f MB, %s)\n", o.Repository+"/"+name, o.Version, archive, float64(info.Size())/1e6, time.Since(start).Round(100*time.Millisecond))
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "image: %v\n", err)
	os.Exit(1)
}
