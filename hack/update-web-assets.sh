#!/usr/bin/env bash
# Installs the console's browser dependencies exactly as web/package-lock.json
# pins them (npm ci, no install scripts) in a scratch directory and copies
# the files the pages load into web/static/vendor/, or into the directory
# given as the first argument. No node_modules is left in the tree.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-"${ROOT}/web/static/vendor"}
# What the pages load, as <package>/<file in the package> -> <vendored name>.
FILES=(
  "htmx.org/dist/htmx.min.js:htmx.min.js"
  "htmx.org/LICENSE:htmx.org.LICENSE"
  "htmx-ext-sse/dist/sse.min.js:htmx-ext-sse.min.js"
  "htmx-ext-sse/LICENSE:htmx-ext-sse.LICENSE"
  "@xterm/xterm/lib/xterm.js:xterm.js"
  "@xterm/xterm/css/xterm.css:xterm.css"
  "@xterm/xterm/LICENSE:xterm.LICENSE"
  "@xterm/addon-fit/lib/addon-fit.js:xterm-addon-fit.js"
  "@xterm/addon-fit/LICENSE:xterm-addon-fit.LICENSE"
  "@xterm/addon-search/lib/addon-search.js:xterm-addon-search.js"
  "@xterm/addon-search/LICENSE:xterm-addon-search.LICENSE"
  "asciinema-player/dist/bundle/asciinema-player.min.js:asciinema-player.min.js"
  "asciinema-player/dist/bundle/asciinema-player.css:asciinema-player.css"
  "asciinema-player/LICENSE:asciinema-player.LICENSE"
)

command -v npm >/dev/null || { echo "npm is needed to fetch the console's web assets (Node.js 20 or later)" >&2; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "${TMP}"' EXIT
cp "${ROOT}/web/package.json" "${ROOT}/web/package-lock.json" "${TMP}/"
if ! (cd "${TMP}" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"${TMP}/npm.log" 2>&1); then
  cat "${TMP}/npm.log" >&2
  echo "npm ci failed: web/package-lock.json must match web/package.json (run npm install --package-lock-only in web/)" >&2
  exit 1
fi
rm -rf "${OUT}"
mkdir -p "${OUT}"
for f in "${FILES[@]}"; do
  cp "${TMP}/node_modules/${f%%:*}" "${OUT}/${f##*:}"
done
