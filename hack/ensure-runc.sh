#!/usr/bin/env bash
# Makes sure runc, an OCI runtime, is on PATH and runs, for hack/image's
# test that runs the janus-apiserver image with a read-only root
# filesystem against the testbed: installs Debian's runc package on a
# fresh machine, or fails saying why it cannot. (Debian's crun fails on
# this machine's hybrid cgroups, so it is runc.)
set -o errexit -o nounset -o pipefail

log() { echo "[ensure-runc] $*" >&2; }

runs() { command -v runc >/dev/null 2>&1 && runc --version >/dev/null 2>&1; }

if runs; then
  exit 0
fi
if command -v runc >/dev/null 2>&1; then
  log "$(command -v runc) is on PATH but 'runc --version' fails: $(runc --version 2>&1 | head -1)"
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  log "runc is missing and apt-get is not available: install runc (https://github.com/opencontainers/runc) on PATH"
  exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
  log "runc is missing and installing it needs root: run 'apt-get update && apt-get install -y runc' as root"
  exit 1
fi
log "installing runc from Debian packages"
export DEBIAN_FRONTEND=noninteractive
# A fresh machine's package lists may be empty: update only if the
# package is unknown.
if ! apt-cache show runc >/dev/null 2>&1; then
  apt-get update -qq || { log "apt-get update failed; the image test needs runc"; exit 1; }
fi
if ! apt-get install -y -qq runc >/dev/null; then
  log "apt-get could not install runc; the image test needs it"
  exit 1
fi
if ! runs; then
  log "the runc package is installed but 'runc --version' does not run"
  exit 1
fi
log "runc is ready: $(runc --version | head -1)"
