#!/usr/bin/env bash
# Fails when web/static/vendor/ is not what hack/update-web-assets.sh makes
# from web/package-lock.json: it rebuilds into a scratch directory and diffs.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "${TMP}"' EXIT
"${ROOT}/hack/update-web-assets.sh" "${TMP}/vendor"
if ! diff -qr "${ROOT}/web/static/vendor" "${TMP}/vendor"; then
  echo "web/static/vendor/ is not what web/package-lock.json pins: run make web-assets and commit web/static/vendor/" >&2
  exit 1
fi
echo "web/static/vendor/ matches web/package-lock.json"
