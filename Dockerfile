# Multi-stage build: a static binary on distroless, running as the nonroot user (65532).
# The builder's Go is the release of go.mod's toolchain line (hack/govulncheck.sh checks that they agree).
FROM golang:1.27.3-bookworm AS builder
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
WORKDIR /workspace
# Dependencies first, so that source changes do not invalidate the module layer.
COPY go.mod go.sum ./
RUN go mod download
COPY main.go ./
COPY config/crd/bases/ config/crd/bases/
COPY api/ api/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-s -w -X github.com/reliability-operator/reliability-operator/internal/buildinfo.Version=${VERSION} -X github.com/reliability-operator/reliability-operator/internal/buildinfo.Revision=${REVISION}" \
    -o reliability-operator .

# Debian 12 (bookworm), as the builder; no shell, no package manager, user nonroot (65532).
FROM gcr.io/distroless/static-debian12:nonroot
WORKDIR /
COPY --from=builder /workspace/reliability-operator .
USER 65532:65532
EXPOSE 8067
ENTRYPOINT ["/reliability-operator"]
