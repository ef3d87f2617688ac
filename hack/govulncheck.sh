#!/usr/bin/env bash
# Runs govulncheck against a local copy of the Go vulnerability database, because the machines that build
# this project reach only the Go module proxy, not the database's own host. The database is a snapshot: the
# OSV files of the golang.org/x/vulndb module at a pinned pseudo-version, indexed by that module's own
# cmd/indexdb. Raise VULNDB_VERSION to refresh it (README, "Supply chain").
# Output: bin/govulncheck-<version>-<go version>, bin/vulndb-<vulndb version>/; each built once.
# Exits non-zero when govulncheck finds a vulnerable symbol reachable from the operator's code.
set -euo pipefail

GOVULNCHECK_VERSION="${GOVULNCHECK_VERSION:-v1.1.4}"
VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${ROOT}/bin"
log() { echo "govulncheck: $*" >&2; }

cd "${ROOT}"
# The image is built by the Go of the Dockerfile's builder stage, not by this toolchain: the scan speaks for
# the image only while both are the release go.mod's toolchain line names.
want="$(go mod edit -json | sed -n 's/.*"Toolchain": "go\([^"]*\)".*/\1/p')"
image="$(sed -n 's/^FROM golang:\([^ ]*\) AS builder.*/\1/p' Dockerfile)"
if [[ -z "${want}" || "${image}" != "${want}-"* ]]; then
  log "the Dockerfile builds with golang:${image:-?}, go.mod's toolchain line names go${want:-?}: make them the same release"
  exit 1
fi

# The Go version this module builds with (its toolchain line, when GOTOOLCHAIN allows switching). govulncheck
# type-checks the standard library of that version, so it has to be built by that toolchain: one built by an
# older Go refuses packages that declare a newer language version.
GOVERSION="$(go env GOVERSION)"
GOVULNCHECK="${BIN}/govulncheck-${GOVULNCHECK_VERSION}-${GOVERSION}"
DB="${BIN}/vulndb-${VULNDB_VERSION}"
mkdir -p "${BIN}"
tmp="$(mktemp -d "${BIN}/.govulncheck.XXXXXX")"
trap 'rm -rf "${tmp}"' EXIT

if [[ ! -x "${GOVULNCHECK}" ]]; then
  log "building govulncheck ${GOVULNCHECK_VERSION} with ${GOVERSION}"
  GOTOOLCHAIN="${GOVERSION}" GOBIN="${tmp}" go install "golang.org/x/vuln/cmd/govulncheck@${GOVULNCHECK_VERSION}"
  mv "${tmp}/govulncheck" "${GOVULNCHECK}"
fi

if [[ ! -f "${DB}/index/db.json" ]]; then
  log "building the vulnerability database from golang.org/x/vulndb@${VULNDB_VERSION}"
  src="$(go mod download -json "golang.org/x/vulndb@${VULNDB_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -d "${src}/data/osv" ]] || { log "golang.org/x/vulndb@${VULNDB_VERSION} has no data/osv folder"; exit 1; }
  # indexdb runs inside the vulndb module, with that module's own go.mod and go.sum.
  (cd "${src}" && go build -o "${tmp}/indexdb" ./cmd/indexdb)
  "${tmp}/indexdb" -vulns "${src}/data/osv" -out "${tmp}/db"
  rm -rf "${DB}" && mv "${tmp}/db" "${DB}"
fi

log "scanning with ${GOVERSION} against golang.org/x/vulndb@${VULNDB_VERSION}"
"${GOVULNCHECK}" -db "file://${DB}" "$@" ./...
