#!/usr/bin/env bash
# Builds (once) and caches helm, which renders and lints charts/janus and
# charts/janus-agent (make manifests, make verify-manifests, the hack/charts
# tests). It comes from the Go module proxy, like everything hack/testbin.sh
# builds: no release tarball can be fetched on our machines or in CI.
#
# Usage:  helm=$(hack/ensure-helm.sh | tail -1)
#   The helm binary's path is always the last line of stdout; progress goes
#   to stderr.
#
# Environment:
#   JANUS_HELM_CACHE  cache root (default: $HOME/.cache/janus/helm; the
#                     binary is <root>/<version>-k8s<major>.<minor>/helm)
#
# helm v3 rather than v4: v3 is what most clusters' tooling still runs, and
# the charts use nothing v4 adds (apiVersion v2 charts render the same).
# A warm cache returns at once. A cold build (download and compile) took
# 90 s on 2 cores (user 2 min 25 s), with the kubernetes modules already in
# the module cache as hack/testbin.sh leaves them; expect a few minutes more
# with an empty module cache.
set -euo pipefail

HELM_VERSION=v3.22.0
# The Kubernetes version helm assumes without a cluster (helm template's
# .Capabilities.KubeVersion, lint's deprecation checks): that of the
# k8s.io modules helm v3.22.0 is built with, as helm's own Makefile sets it.
# Without it helm says v1.20.0 and refuses kubeVersion constraints.
K8S_MAJOR=1
K8S_MINOR=37

CACHE_ROOT="${JANUS_HELM_CACHE:-$HOME/.cache/janus/helm}"
VERSION_DIR="$CACHE_ROOT/$HELM_VERSION-k8s$K8S_MAJOR.$K8S_MINOR"
HELM="$VERSION_DIR/helm"

log() { printf '%s ensure-helm: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Fast path: no lock, no go invocation, so tests can call this every time.
if [[ -x "$HELM" && -f "$VERSION_DIR/.complete" ]]; then
  echo "$HELM"
  exit 0
fi

mkdir -p "$VERSION_DIR"
# One builder at a time: parallel test packages may all call this cold.
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another helm build is running; waiting for it"
  flock 9
fi
if [[ -x "$HELM" && -f "$VERSION_DIR/.complete" ]]; then
  echo "$HELM"
  exit 0
fi

start=$SECONDS
# Only the proxy is reachable: the `direct` fallback would turn a proxy miss
# into a confusing git error. The build runs outside any module (helm's own
# go.mod decides its dependencies; Janus's go.mod is not touched), with the
# installed Go and no cgo (helm's release binaries are static too).
export GOPROXY="$(go env GOPROXY | cut -d, -f1)"
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

rm -rf "$VERSION_DIR"/.tmp.* "$HELM" "$VERSION_DIR/.complete"
TMP="$(mktemp -d "$VERSION_DIR/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

log "building helm.sh/helm/v3/cmd/helm@${HELM_VERSION} (about 3 min cold)"
ticker_began=$SECONDS
( while sleep 30; do log "still building helm ($((SECONDS - ticker_began))s so far)"; done ) &
ticker=$!
rc=0
(cd "$TMP" && GOBIN="$TMP" go install -trimpath \
  -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=${K8S_MAJOR} -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${K8S_MINOR} \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=${K8S_MAJOR} -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${K8S_MINOR}" \
  "helm.sh/helm/v3/cmd/helm@${HELM_VERSION}") || rc=$?
kill "$ticker" 2>/dev/null || true
wait "$ticker" 2>/dev/null || true
if (( rc != 0 )); then
  log "building helm ${HELM_VERSION} failed (exit $rc): is the Go module proxy ($GOPROXY) reachable?"
  exit "$rc"
fi
"$TMP/helm" version --short >&2
mv "$TMP/helm" "$HELM"
echo "$HELM_VERSION built $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$VERSION_DIR/.complete"
log "done in $((SECONDS - start))s: $HELM"
echo "$HELM"
