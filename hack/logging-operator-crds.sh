#!/usr/bin/env bash
# Generates the CRDs of kube-logging's logging-operator for envtest. The module proxy refuses every version of
# its main module (which holds the CRD YAML), but serves its Go SDK, whose API types carry the markers the CRDs
# are generated from: controller-gen, run inside the SDK module with the SDK's own dependencies, writes the
# same CRDs. Output: bin/crds/logging-operator-sdk-<version>/; built once. Prints the folder on stdout.
set -euo pipefail

SDK_VERSION="${LOGGING_SDK_VERSION:-v0.12.0}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${ROOT}/bin/crds/logging-operator-sdk-${SDK_VERSION}"
CONTROLLER_GEN="${CONTROLLER_GEN:-${ROOT}/bin/controller-gen-v0.23.0}"

if [[ -f "${OUT}/logging.banzaicloud.io_flows.yaml" ]]; then
  echo "${OUT}"
  exit 0
fi
dir="$(go mod download -json "github.com/kube-logging/logging-operator/pkg/sdk@${SDK_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
[[ -n "${dir}" ]] || { echo "logging-operator-crds: could not download the SDK ${SDK_VERSION}" >&2; exit 1; }
work="$(mktemp -d)"
trap 'chmod -R u+w "${work}"; rm -rf "${work}"' EXIT
cp -r "${dir}/." "${work}/" && chmod -R u+w "${work}"
mkdir -p "${OUT}.tmp"
(cd "${work}" && go mod download >&2 && "${CONTROLLER_GEN}" crd paths=./logging/api/v1beta1/... output:crd:artifacts:config="${OUT}.tmp" >&2)
rm -rf "${OUT}" && mv "${OUT}.tmp" "${OUT}"
echo "${OUT}"
