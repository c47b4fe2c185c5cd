#!/usr/bin/env bash
# Makes sure headless Chromium is installed at /usr/bin/chromium for the
# console's browser tests (test/console): installs Debian's chromium package
# on a fresh machine, or fails saying why it cannot.
set -o errexit -o nounset -o pipefail

log() { echo "[ensure-chromium] $*" >&2; }

CHROMIUM=/usr/bin/chromium
if [[ -x "${CHROMIUM}" ]]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "${CHROMIUM} is missing and apt-get is not available: install Chromium so that ${CHROMIUM} exists"
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  log "${CHROMIUM} is missing and installing it needs root: run 'apt-get update && apt-get install -y chromium' as root"
  exit 1
fi
log "installing Chromium from Debian packages"
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
  log "apt-get could not install chromium; the console's browser tests need ${CHROMIUM}"
  exit 1
fi
if [[ ! -x "${CHROMIUM}" ]]; then
  log "the chromium package is installed but ${CHROMIUM} is missing"
  exit 1
fi
log "Chromium is ready: $("${CHROMIUM}" --version 2>/dev/null || echo "${CHROMIUM}")"
