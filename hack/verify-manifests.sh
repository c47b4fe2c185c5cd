#!/usr/bin/env bash
# Fails if artifacts/central, artifacts/console or artifacts/agent differ
# from what hack/update-manifests.sh renders from the charts.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$ROOT/hack/update-manifests.sh" "$TMP"
rc=0
for d in central console agent; do
  diff -ruN "$ROOT/artifacts/$d" "$TMP/artifacts/$d" || rc=1
done
if (( rc != 0 )); then
  echo "artifacts/ are out of date with charts/: run make manifests" >&2
  exit 1
fi
