#!/usr/bin/env bash
# Builds (once) and caches versitygw, a real S3-compatible server with a POSIX
# backend, for the tests of Janus's S3 recording store. It comes from the Go
# module proxy like everything in hack/testbin.sh: no release downloads.
#
# Usage:  bin=$(hack/ensure-s3.sh | tail -1)
#   The path of the versitygw binary is always the last line of stdout;
#   progress goes to stderr.
#
# Environment:
#   JANUS_S3_CACHE  cache root (default: $HOME/.cache/janus/s3)
set -euo pipefail

VERSITYGW_VERSION=v1.8.0

CACHE_ROOT="${JANUS_S3_CACHE:-$HOME/.cache/janus/s3}"
BIN_DIR="$CACHE_ROOT/versitygw-${VERSITYGW_VERSION}"
BIN="$BIN_DIR/versitygw"

log() { printf '%s ensure-s3: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# Fast path: no lock, no go invocation, so tests can call this every time.
if [[ -x "$BIN" && -f "$BIN_DIR/.complete" ]]; then
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# One builder at a time: two cold builds on 2 cores would each take twice as long.
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  log "another versitygw build is running; waiting for it"
  flock 9
fi
if [[ -x "$BIN" && -f "$BIN_DIR/.complete" ]]; then
  echo "$BIN"
  exit 0
fi

# Only the proxy is reachable; build with the installed Go, outside any
# caller's go.work, statically.
export GOPROXY="$(go env GOPROXY | cut -d, -f1)"
export GOWORK=off GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

rm -rf "$BIN_DIR"
TMP="$(mktemp -d "$CACHE_ROOT/.tmp.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
start=$SECONDS
log "building versitygw ${VERSITYGW_VERSION} from the module proxy (a few minutes cold)"
(cd "$TMP" && GOBIN="$TMP" go install -trimpath -ldflags "-s -w" \
  "github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}")
mkdir -p "$BIN_DIR"
mv "$TMP/versitygw" "$BIN"
touch "$BIN_DIR/.complete"
log "versitygw built after $((SECONDS - start))s"
echo "$BIN"
