#!/usr/bin/env bash
# Builds (once) and caches the real binaries the integration tests run against:
# kube-apiserver, kube-controller-manager, kubectl, etcd and kwok, plus kwok's
# Stage configs. Everything comes from the Go module proxy, because that is the
# only thing reachable on our machines and in CI (no release tarballs).
#
# Usage:  bin=$(hack/testbin.sh | tail -1)
#   The bin directory is always the last line of stdout; progress goes to
#   stderr. kwok Stage files are in "$bin/../kwok-stages".
#
# Environment:
#   JANUS_TESTBIN_CACHE  cache root (default: $HOME/.cache/janus/testbin)
#
# A warm cache returns immediately; a cold build takes 6-10 minutes on 2 cores.
set -euo pipefail

KUBE_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KWOK_VERSION=v0.8.0

# k8s.io staging modules are published as v0.X.Y for Kubernetes v1.X.Y.
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"

CACHE_ROOT="${JANUS_TESTBIN_CACHE:-$HOME/.cache/janus/testbin}"
VERSION_DIR="$CACHE_ROOT/k8s-${KUBE_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}"
BIN_DIR="$VERSION_DIR/bin"
STAGES_DIR="$VERSION_DIR/kwok-stages"
BINARIES=(kube-apiserver kube-controller-manager kubectl etcd kwok)

log() { printf '%s testbin: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# still_going runs "$@" while saying every 30 s that it has not finished:
# the long builds below print nothing of their own for minutes.
still_going() {
  local what=$1; shift
  local began=$SECONDS
  ( while sleep 30; do log "still $what ($((SECONDS - began))s so far)"; done ) &
  local ticker=$!
  local rc=0
  "$@" || rc=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$rc"
}

# The cache is valid only if the stamp is there: it is written last, inside the
# temp dir, so a half-finished or interrupted build never looks complete.
cache_complete() {
  [[ -f "$BIN_DIR/.complete" && -d "$STAGES_DIR" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do
    [[ -x "$BIN_DIR/$b" ]] || return 1
  done
}

# Fast path: no lock, no go invocation, so tests can call this every time.
if cache_complete; then
  echo "$BIN_DIR"
  exit 0
fi

mkdir -p "$VERSION_DIR"
# One builder at a time: parallel test packages or CI steps may all call this
# on a cold cache, and two cold builds on 2 cores would each take twice as long.
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another testbin build is running; waiting for it"
  flock 9
fi
# Whoever held the lock may have just finished the job for us.
if cache_complete; then
  echo "$BIN_DIR"
  exit 0
fi

start=$SECONDS

# Only the proxy is reachable: the `direct` fallback would try VCS hosts and
# turn a proxy miss into a confusing git error.
export GOPROXY="$(go env GOPROXY | cut -d, -f1)"
# The scratch module must not be pulled into a go.work or a vendor mode from
# the caller's environment, and must build with the installed Go (no toolchain
# switching behind our back).
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local
# Upstream release binaries are static; this also spares us a C toolchain.
export CGO_ENABLED=0

# Leftovers of an interrupted build (we hold the lock, so nobody else owns them).
rm -rf "$VERSION_DIR"/.tmp.* "$BIN_DIR" "$STAGES_DIR"
TMP="$(mktemp -d "$VERSION_DIR/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/bin" "$TMP/kwok-stages"

modfield() { # modfield MODULE@VERSION FIELD -> value from `go mod download -json`
  go mod download -json "$1" | sed -n "s/^[[:space:]]*\"$2\": \"\(.*\)\",\{0,1\}\$/\1/p"
}

# --- kube-apiserver, kube-controller-manager, kubectl, etcd ----------------
# `go install k8s.io/kubernetes/cmd/...@version` is refused because
# k8s.io/kubernetes' go.mod replaces its staging modules with ./staging paths.
# A scratch module that requires k8s.io/kubernetes and points each of those
# replaces at the published k8s.io/<name> module instead builds the same code.
log "resolving k8s.io/kubernetes@${KUBE_VERSION}"
kube_gomod="$(modfield "k8s.io/kubernetes@${KUBE_VERSION}" GoMod)"
mapfile -t staging < <(awk '/=>[[:space:]]*\.\/staging\//{
    for (i = 1; i <= NF; i++) if ($(i+1) == "=>") { print $i; break } }' "$kube_gomod")
if (( ${#staging[@]} == 0 )); then
  log "found no ./staging replaces in $kube_gomod; has the layout changed?"
  exit 1
fi
log "replacing ${#staging[@]} staging modules with ${STAGING_VERSION}"

SRC="$VERSION_DIR/src"   # kept after the build, handy for debugging
rm -rf "$SRC"
mkdir -p "$SRC"
cd "$SRC"
cat >go.mod <<EOF
module janus.local/testbin

go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')
EOF
edits=(-require="k8s.io/kubernetes@${KUBE_VERSION}"
       -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}")
for m in "${staging[@]}"; do
  edits+=(-replace="${m}=${m}@${STAGING_VERSION}")
done
go mod edit "${edits[@]}"

# The etcd main package is the root of the go.etcd.io/etcd/server/v3 module.
PKGS=(
  k8s.io/kubernetes/cmd/kube-apiserver
  k8s.io/kubernetes/cmd/kube-controller-manager
  k8s.io/kubernetes/cmd/kubectl
  go.etcd.io/etcd/server/v3
)
{
  printf '//go:build tools\n\n// Pins the main packages we build, so go mod tidy keeps their deps.\npackage tools\n\nimport (\n'
  printf '\t_ "%s"\n' "${PKGS[@]}"
  printf ')\n'
} >tools.go

# tidy fetches only what these packages need; `go mod download all` would pull
# about 2.2 GB of the whole kubernetes graph.
log "go mod tidy (downloads the dependencies of the binaries)"
still_going "downloading the dependencies (go mod tidy)" go mod tidy
got_etcd="$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
if [[ "$got_etcd" != "$ETCD_VERSION" ]]; then
  log "module graph selected etcd server $got_etcd, want $ETCD_VERSION"
  exit 1
fi

kube_minor="${KUBE_VERSION#v1.}"; kube_minor="${kube_minor%%.*}"
build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
ldflags="-s -w"
# Without these the binaries report v0.0.0-master, and clients that compare
# server versions (kubectl skew warnings, discovery) misbehave.
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X ${pkg}.gitVersion=${KUBE_VERSION}"
  ldflags+=" -X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${kube_minor}"
  ldflags+=" -X ${pkg}.gitTreeState=clean -X ${pkg}.buildDate=${build_date}"
done

# One go build for all four: they share most packages, so this compiles each
# dependency once.
log "building kube-apiserver, kube-controller-manager, kubectl, etcd ... (takes ~7 min cold)"
still_going "building kube-apiserver, kube-controller-manager, kubectl, etcd" \
  go build -trimpath -ldflags "$ldflags" -o "$TMP/bin/" "${PKGS[@]}"
mv "$TMP/bin/server" "$TMP/bin/etcd"
log "kubernetes + etcd built after $((SECONDS - start))s"

# --- kwok ---------------------------------------------------------------------
# kwok's go.mod has no replace directives, so a plain go install works. Run it
# outside the scratch module so its own go.mod decides the dependency versions.
log "building kwok ${KWOK_VERSION} ... (takes ~1 min cold)"
(cd "$TMP" && still_going "building kwok" env GOBIN="$TMP/bin" go install -trimpath -ldflags "-s -w" \
  "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}")

# kwok needs Stage objects (passed with --config) to move fake nodes and pods
# through their lifecycle. Copy the ones it ships, keeping kwok's layout
# (node/fast, node/heartbeat-with-lease, pod/fast, pod/general, ...) since
# profiles reuse file names. Only Stage files: the tree also holds kustomize
# files, RBAC objects and test fixtures that kwok's --config must not see.
kwok_dir="$(modfield "sigs.k8s.io/kwok@${KWOK_VERSION}" Dir)"
(cd "$kwok_dir/kustomize/stage" &&
  find . -name '*.yaml' ! -path '*/testdata/*' -print0 |
    while IFS= read -r -d '' f; do
      grep -q '^kind: Stage$' "$f" || continue
      mkdir -p "$TMP/kwok-stages/$(dirname "$f")"
      cp "$f" "$TMP/kwok-stages/$f"
    done)
# Also one multi-document file with kwok's default "fast" profile, so a test
# needs a single --config flag.
fast_kust="$kwok_dir/kustomize/stage/fast/kustomization.yaml"
: >"$TMP/kwok-stages/fast.yaml"
for res in $(sed -n 's/^- \.\.\/\(.*\)$/\1/p' "$fast_kust"); do
  for f in "$kwok_dir/kustomize/stage/$res"/*.yaml; do
    grep -q '^kind: Stage$' "$f" || continue
    { echo "---"; cat "$f"; } >>"$TMP/kwok-stages/fast.yaml"
  done
done
chmod -R u+w,go-w "$TMP/kwok-stages"

# --- publish ------------------------------------------------------------------
for b in "${BINARIES[@]}"; do
  [[ -x "$TMP/bin/$b" ]] || { log "missing $b after build"; exit 1; }
done
printf 'kube %s\netcd %s\nkwok %s\nbuilt %s\n' \
  "$KUBE_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$build_date" >"$TMP/bin/.complete"
# Stages first, bin last: bin/.complete appearing is what marks the cache valid,
# and each rename is atomic on the same filesystem.
mv -T "$TMP/kwok-stages" "$STAGES_DIR"
mv -T "$TMP/bin" "$BIN_DIR"

log "done in $((SECONDS - start))s total: $BIN_DIR"
echo "$BIN_DIR"
