package version

import (
	"fmt"
	"runtime"

	apimachineryversion "k8s.io/apimachinery/pkg/version"
)

// Set by the build with, for example,
//
//	-ldflags "-X github.com/infroware/janus/pkg/version.gitVersion=v0.1.0
//	          -X github.com/infroware/janus/pkg/version.gitCommit=$(git rev-parse HEAD)
//	          -X github.com/infroware/janus/pkg/version.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
//
// A plain `go build` or `go test` leaves the defaults, which say so.
var (
	gitVersion = "v0.0.0-dev"
	gitCommit  = "unknown"
	buildDate  = "unknown"
)

// Get returns this binary's build, in the shape Kubernetes's /version
// serves, so tools that read one read the other.
func Get() apimachineryversion.Info {
	return apimachineryversion.Info{
		GitVersion: gitVersion,
		GitCommit:  gitCommit,
		BuildDate:  buildDate,
		GoVersion:  runtime.Version(),
		Compiler:   runtime.Compiler,
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}

// String is the one line `<program> --version` prints after the program's
// name: "v0.1.0 (commit 1a2b3c4, built 2026-12-02T03:00:00Z, go1.26.5 linux/amd64)".
func String() string {
	info := Get()
	return fmt.Sprintf("%s (commit %s, built %s, %s %s)", info.GitVersion, info.GitCommit, info.BuildDate, info.GoVersion, info.Platform)
}
