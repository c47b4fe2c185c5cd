#!/usr/bin/env bash
# Regenerates deepcopy, defaulters, conversions, OpenAPI definitions and the
# typed client (clientset, listers, informers, applyconfigurations) with
# k8s.io/code-generator's kube_codegen.sh, at the version pinned in go.mod.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"
export GOPROXY="${GOPROXY:-$(go env GOPROXY | cut -d, -f1)}"
GOPROXY="${GOPROXY%%,direct}"

MODULE=$(go list -m)
# On a machine whose module cache is empty, `go list -m` prints no directory
# for a module not yet downloaded; download it (at go.mod's version) first.
go mod download k8s.io/code-generator
CODEGEN_PKG=$(go list -m -f '{{.Dir}}' k8s.io/code-generator)
if [[ -z "${CODEGEN_PKG}" || ! -f "${CODEGEN_PKG}/kube_codegen.sh" ]]; then
  echo "k8s.io/code-generator is not in the module cache (GOPROXY=${GOPROXY}); cannot generate" >&2
  exit 1
fi
# shellcheck source=/dev/null
source "${CODEGEN_PKG}/kube_codegen.sh"

# The generators resolve the module's packages relative to the output tree, so
# a temporary GOBIN keeps the tool binaries out of the developer's PATH.
export GOBIN="${GOBIN:-${ROOT}/_output/codegen-bin}"

kube::codegen::gen_helpers \
  --boilerplate "${ROOT}/hack/boilerplate.go.txt" \
  "${ROOT}/pkg/apis"

kube::codegen::gen_openapi \
  --output-dir "${ROOT}/pkg/generated/openapi" \
  --output-pkg "${MODULE}/pkg/generated/openapi" \
  --report-filename "${ROOT}/hack/api-violations.list" \
  --update-report \
  --output-model-name-file zz_generated.model_name.go \
  --boilerplate "${ROOT}/hack/boilerplate.go.txt" \
  "${ROOT}/pkg/apis"

kube::codegen::gen_client \
  --with-watch \
  --with-applyconfig \
  --output-dir "${ROOT}/pkg/generated" \
  --output-pkg "${MODULE}/pkg/generated" \
  --boilerplate "${ROOT}/hack/boilerplate.go.txt" \
  "${ROOT}/pkg/apis"
