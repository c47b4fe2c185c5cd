#!/usr/bin/env bash
# Fails when the generated code is not what hack/update-codegen.sh produces
# from the current types: it regenerates into a copy of the tree and diffs.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "${TMP}"' EXIT

mkdir -p "${TMP}/tree"
# Copy the module without build outputs, so the run touches nothing of ours.
tar -C "${ROOT}" --exclude=./_output --exclude=./.git -cf - . | tar -C "${TMP}/tree" -xf -
GOBIN="${ROOT}/_output/codegen-bin" "${TMP}/tree/hack/update-codegen.sh" >/dev/null

status=0
for dir in pkg hack/api-violations.list; do
  if ! diff -Naupr "${ROOT}/${dir}" "${TMP}/tree/${dir}"; then
    status=1
  fi
done
if [[ ${status} -ne 0 ]]; then
  echo "generated code is out of date: run hack/update-codegen.sh" >&2
  exit 1
fi
echo "generated code is up to date"
