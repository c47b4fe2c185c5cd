#!/usr/bin/env bash
# Builds the kubectl janus release archives into _output/release:
# kubectl-janus_<version>_<os>_<arch>.tar.gz (linux, darwin) or .zip
# (windows), each with the binary and LICENSE; SHA256SUMS over them; and
# janus.yaml, the krew manifest deploy/krew/janus.yaml with the version and
# each archive's sha256 filled in. Run by `make release`, which passes
# VERSION, COMMIT, BUILD_DATE and LDFLAGS; PLATFORMS narrows the set.
#
# The archives are reproducible: sorted entries, the build date as every
# time, root ownership, no gzip name or time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
: "${VERSION:?VERSION is required}" "${LDFLAGS:?LDFLAGS is required}" "${BUILD_DATE:?BUILD_DATE is required}"
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64}
out=_output/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf "$out"
mkdir -p "$out"
manifest=$(cat deploy/krew/janus.yaml)
manifest=${manifest//'{{VERSION}}'/$VERSION}
for platform in $PLATFORMS; do
  os=${platform%/*} arch=${platform#*/}
  exe=kubectl-janus; [[ $os == windows ]] && exe=kubectl-janus.exe
  dir=$work/${os}_${arch}
  mkdir -p "$dir"
  start=$SECONDS
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -ldflags "$LDFLAGS" -o "$dir/$exe" ./cmd/kubectl-janus
  cp LICENSE "$dir/LICENSE"
  touch -d "$BUILD_DATE" "$dir/$exe" "$dir/LICENSE"
  name=kubectl-janus_${VERSION}_${os}_${arch}
  if [[ $os == windows ]]; then
    archive=$name.zip
    (cd "$dir" && TZ=UTC zip -q -X "$root/$out/$archive" LICENSE "$exe")
  else
    archive=$name.tar.gz
    tar --sort=name --mtime="$BUILD_DATE" --owner=0 --group=0 --numeric-owner -C "$dir" -cf - LICENSE "$exe" | gzip -9 -n > "$out/$archive"
  fi
  sum=$(sha256sum "$out/$archive" | cut -d' ' -f1)
  manifest=${manifest//"{{SHA256_${os}_${arch}}}"/$sum}
  echo "release: $out/$archive ($(du -h "$out/$archive" | cut -f1), built in $((SECONDS - start))s)"
done
(cd "$out" && shopt -s nullglob && sha256sum -- *.tar.gz *.zip > SHA256SUMS)
printf '%s\n' "$manifest" > "$out/janus.yaml"
if grep -q '{{' "$out/janus.yaml"; then
  echo "release: $out/janus.yaml still has placeholders for platforms not built (PLATFORMS=$PLATFORMS)" >&2
fi
echo "release: $out/SHA256SUMS, $out/janus.yaml"
