#!/usr/bin/env bash
# Fails when a generated file is stale: it regenerates the CRD, the RBAC ClusterRole and the DeepCopy methods
# in a scratch copy of the tree and compares them with the committed ones and the Helm chart's copies. Also checks that every kustomize
# overlay builds. Run through `make test`, which sets CONTROLLER_GEN and KUSTOMIZE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${CONTROLLER_GEN:?set CONTROLLER_GEN (make test does)}"
: "${KUSTOMIZE:?set KUSTOMIZE (make test does)}"

scratch="$(mktemp -d)"
trap 'rm -rf "${scratch}"' EXIT
(cd "${ROOT}" && tar --exclude=./bin --exclude=./.git -cf - .) | (cd "${scratch}" && tar -xf -)
(
  cd "${scratch}"
  "${CONTROLLER_GEN}" object paths="./api/..."
  "${CONTROLLER_GEN}" rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
    output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
)
stale=0
for f in api/v1alpha1/zz_generated.deepcopy.go config/crd/bases config/rbac/role.yaml; do
  if ! diff -ru "${ROOT}/${f}" "${scratch}/${f}"; then
    echo "verify-generated: ${f} is stale; run 'make manifests generate' and commit the result" >&2
    stale=1
  fi
done
# The Helm chart's templates cannot read outside the chart, so it holds copies of the CRD and the ClusterRole;
# `make manifests` writes them with the originals.
chart=charts/reliability-operator/files
for pair in crd/bases/reliability.dev_reliabilityprofiles.yaml:reliability.dev_reliabilityprofiles.yaml \
  rbac/role.yaml:manager-role.yaml; do
  if ! diff -u "${scratch}/config/${pair%%:*}" "${ROOT}/${chart}/${pair##*:}"; then
    echo "verify-generated: ${chart}/${pair##*:} is stale; run 'make manifests' and commit the result" >&2
    stale=1
  fi
done
for overlay in base default crd rbac manager samples prometheus network-policy loki webhook certmanager spot-placement; do
  if ! "${KUSTOMIZE}" build "${ROOT}/config/${overlay}" >/dev/null; then
    echo "verify-generated: kustomize build config/${overlay} failed" >&2
    stale=1
  fi
done
[[ ${stale} == 0 ]] && echo "verify-generated: generated files are up to date; every overlay builds"
exit ${stale}
