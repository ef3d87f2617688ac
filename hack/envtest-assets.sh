#!/usr/bin/env bash
# Builds the control-plane binaries envtest needs (kube-apiserver and etcd) from the Go module proxy,
# because setup-envtest, kind and Docker cannot download anything on our machines.
# Output: bin/k8s/<k8s-version>/{kube-apiserver,etcd}; rebuilt only when a version changes.
# Prints the assets folder on stdout (for KUBEBUILDER_ASSETS); progress goes to stderr.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"      # must match the k8s.io/* v0.37.x that controller-runtime pulls
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="${ROOT}/bin/k8s/${K8S_VERSION}"
WORK="${ROOT}/bin/.envtest-build"
STAMP="${ASSETS}/.versions"
WANT="kube-apiserver=v${K8S_VERSION} etcd=v${ETCD_VERSION}"

if [[ -x "${ASSETS}/kube-apiserver" && -x "${ASSETS}/etcd" && "$(cat "${STAMP}" 2>/dev/null)" == "${WANT}" ]]; then
  echo "${ASSETS}"
  exit 0
fi
mkdir -p "${ASSETS}" "${WORK}"
log() { echo "envtest-assets: $*" >&2; }

build_apiserver() {
  local dir="${WORK}/kube-apiserver"
  rm -rf "${dir}" && mkdir -p "${dir}" && cd "${dir}"
  go mod init envtest-assets/kube-apiserver >/dev/null 2>&1
  # k8s.io/kubernetes replaces every staging module with ./staging/...; a module that requires it has to
  # name each of them at the published v0.x version instead.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  local staging
  staging="$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "${gomod}" | sort -u)"
  [[ -n "${staging}" ]] || { log "found no staging replaces in ${gomod}"; exit 1; }
  local minor="0.${K8S_VERSION#1.}"
  go mod edit -require="k8s.io/kubernetes@v${K8S_VERSION}"
  for m in ${staging}; do go mod edit -replace="${m}=${m}@v${minor}"; done
  cat > main.go <<'GO'
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
GO
  go mod tidy >&2
  rm main.go
  local major="${K8S_VERSION%%.*}" rest="${K8S_VERSION#*.}"
  local minorv="${rest%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X ${pkg}.gitVersion=v${K8S_VERSION} -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minorv}"
    ld+=" -X ${pkg}.gitTreeState=clean"
  done
  CGO_ENABLED=0 go build -trimpath -ldflags "${ld}" -o "${ASSETS}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver >&2
}

build_etcd() {
  local dir="${WORK}/etcd"
  rm -rf "${dir}" && mkdir -p "${dir}" && cd "${dir}"
  go mod init envtest-assets/etcd >/dev/null 2>&1
  cat > main.go <<'GO'
// etcd's own main package cannot be installed through the proxy (its go.mod has replace directives),
// so this wrapper calls the same entry point.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}" >&2
  go mod tidy >&2
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "${ASSETS}/etcd" . >&2
}

log "building etcd v${ETCD_VERSION}"
build_etcd
log "building kube-apiserver v${K8S_VERSION} (cold: about 10 minutes on 2 cores)"
build_apiserver
echo "${WANT}" > "${STAMP}"
log "done: ${ASSETS}"
echo "${ASSETS}"
