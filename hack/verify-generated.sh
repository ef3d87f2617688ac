#!/usr/bin/env bash
# Fails when a generated file is stale: it regenerates the CRDs, the RBAC ClusterRole and the DeepCopy methods
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
# config/crd lists every CRD of bases/: the chart, the bundle and `make install` ship what it lists.
if ! diff -u <(grep -h '^  name: ' "${scratch}"/config/crd/bases/*.yaml | sort) \
  <("${KUSTOMIZE}" build "${ROOT}/config/crd" | grep '^  name: ' | sort); then
  echo "verify-generated: config/crd/kustomization.yaml does not list every CRD of config/crd/bases" >&2
  stale=1
fi
# The Helm chart's templates cannot read outside the chart, so it holds copies of the CRDs and the
# ClusterRole; `make manifests` writes them with the originals. Every CRD of config/crd/bases has its copy,
# and the chart has no CRD that config/ no longer generates (templates/crd.yaml renders each one it has).
chart=charts/reliability-operator/files
if ! diff -u <(cd "${scratch}/config/crd/bases" && ls -- *.yaml) <(cd "${ROOT}/${chart}" && ls -- reliability.dev_*.yaml); then
  echo "verify-generated: ${chart} does not hold one copy of each CRD of config/crd/bases; run 'make manifests' and commit the result" >&2
  stale=1
fi
pairs=(rbac/role.yaml:manager-role.yaml)
for crd in "${scratch}"/config/crd/bases/*.yaml; do
  pairs+=("crd/bases/${crd##*/}:${crd##*/}")
done
for pair in "${pairs[@]}"; do
  if ! diff -u "${scratch}/config/${pair%%:*}" "${ROOT}/${chart}/${pair##*:}"; then
    echo "verify-generated: ${chart}/${pair##*:} is stale; run 'make manifests' and commit the result" >&2
    stale=1
  fi
done
for overlay in base default crd rbac manager samples policy prometheus network-policy loki webhook certmanager spot-placement; do
  if ! "${KUSTOMIZE}" build "${ROOT}/config/${overlay}" >/dev/null; then
    echo "verify-generated: kustomize build config/${overlay} failed" >&2
    stale=1
  fi
done
[[ ${stale} == 0 ]] && echo "verify-generated: generated files are up to date; every overlay builds"
exit ${stale}
