// Package version says which build of Janus is running: the release
// version, commit and build date that `make build`, `make image` and
// `make release` stamp in with -ldflags -X, as Kubernetes components stamp
// k8s.io/component-base/version. Every Janus binary reports it through
// --version, and janus-apiserver through its janus_build_info metric and
// its OpenAPI documents. It must stay free of anything heavier than cobra
// and apimachinery's version type, which every binary links already:
// janus-agent and kubectl-janus link it too.
package version
