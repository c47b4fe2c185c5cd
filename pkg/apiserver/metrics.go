package apiserver

import (
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/infroware/janus/pkg/version"
)

// buildInfo is always 1; its labels say which build of janus-apiserver
// serves, so dashboards can tell replicas of different releases apart
// during an upgrade (kubernetes_build_info beside it describes the
// Kubernetes libraries, not Janus).
var buildInfo = metrics.NewGaugeVec(&metrics.GaugeOpts{
	Namespace:      "janus",
	Name:           "build_info",
	Help:           "A metric with a constant '1' value labeled by the version, commit and Go version janus-apiserver was built from.",
	StabilityLevel: metrics.ALPHA,
}, []string{"version", "commit", "go_version"})

func init() {
	legacyregistry.MustRegister(buildInfo)
	info := version.Get()
	buildInfo.WithLabelValues(info.GitVersion, info.GitCommit, info.GoVersion).Set(1)
}
