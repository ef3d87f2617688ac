# reliability-operator. `make help` lists the targets.

# Tool versions: pinned, because the module proxy refuses @latest for some of them (see ../shared/TOOLCHAIN.md).
CONTROLLER_TOOLS_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.2
# The Prometheus 3 module: its promtool checks and tests every rendered rule, its server runs the observer
# tests (internal/testenv.PrometheusVersion names the same version).
PROMETHEUS_VERSION ?= v0.316.0
K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
# Helm for the chart's checks (helm lint, helm template in hack/helmchart; internal/testenv.HelmVersion names
# the same version).
HELM_VERSION ?= v3.22.0

# VERSION is the one version of the operator: the image tag, the binary's version, the OLM bundle and the
# Helm chart (Chart.yaml's version and appVersion; hack/helmchart and hack/bundle fail when one differs).
# REVISION is the git commit the binary was built from.
VERSION ?= $(strip $(file < VERSION))
IMG ?= ghcr.io/reliability-operator/reliability-operator:v$(VERSION)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X github.com/reliability-operator/reliability-operator/internal/buildinfo.Version=$(VERSION) \
	-X github.com/reliability-operator/reliability-operator/internal/buildinfo.Revision=$(REVISION)

LOCALBIN := $(CURDIR)/bin
CHART := charts/reliability-operator
CONTROLLER_GEN := $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE := $(LOCALBIN)/kustomize-$(KUSTOMIZE_VERSION)
ENVTEST_ASSETS := $(LOCALBIN)/k8s/$(K8S_VERSION)
# promtool and the Prometheus server of Prometheus 3, built from the Go module proxy into bin/ (about 9
# minutes together, once), never the PATH's: Debian's are Prometheus 2.
PROMTOOL ?= $(LOCALBIN)/promtool-$(PROMETHEUS_VERSION)
PROMETHEUS ?= $(LOCALBIN)/prometheus-$(PROMETHEUS_VERSION)
HELM ?= $(LOCALBIN)/helm-$(HELM_VERSION)
export KUBEBUILDER_ASSETS := $(ENVTEST_ASSETS)
export CONTROLLER_GEN KUSTOMIZE PROMTOOL PROMETHEUS HELM
# go.mod's toolchain line names the Go release the operator is built, tested and scanned with (a standard
# library without known vulnerabilities). GOTOOLCHAIN=local, the default of this machine's Go and of Go's
# container images, would ignore that line; auto lets the go command fetch that release from the module proxy.
export GOTOOLCHAIN := $(if $(filter-out local,$(GOTOOLCHAIN)),$(GOTOOLCHAIN),auto)

.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash -o pipefail

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"} /^[a-zA-Z_-]+:.*##/ { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRDs and the RBAC ClusterRole from the markers, and copy them into the Helm chart.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/..." paths="./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -f $(CHART)/files/reliability.dev_*.yaml
	cp config/crd/bases/*.yaml $(CHART)/files/
	cp config/rbac/role.yaml $(CHART)/files/manager-role.yaml

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the DeepCopy methods of the API types.
	$(CONTROLLER_GEN) object paths="./api/..."

.PHONY: golden
golden: ## Rewrite the golden files of the renderers from the current output (review the diff).
	go test ./internal/render/ ./internal/logs/ -run Golden -update

.PHONY: bundle
bundle: ## Generate the OLM bundle (bundle/, bundle.Dockerfile) from config/ for $(VERSION) and $(IMG); go test ./hack/bundle checks it.
	go run ./hack/bundle -version $(VERSION) -image $(IMG) -out bundle -dockerfile bundle.Dockerfile

# The tests (hack/helmchart, hack/bundle) fail when one of these differs from VERSION; this writes them all.
.PHONY: set-version
set-version: $(KUSTOMIZE) ## Make NEW the version everywhere (make set-version NEW=0.2.0): VERSION, config/manager's image tag, Chart.yaml, bundle/.
	@[[ "$(NEW)" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "usage: make set-version NEW=<semver>, such as 0.2.0" >&2; exit 1; }
	echo "$(NEW)" > VERSION
	sed -i -E 's/^version: .*/version: $(NEW)/; s/^appVersion: .*/appVersion: "$(NEW)"/' $(CHART)/Chart.yaml
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG:%:v$(VERSION)=%):v$(NEW)
	$(MAKE) bundle VERSION=$(NEW) IMG=$(IMG:%:v$(VERSION)=%):v$(NEW)

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: envtest
envtest: ## Build kube-apiserver and etcd for envtest into bin/k8s (once per version).
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest-assets.sh >/dev/null

.PHONY: test
test: envtest $(CONTROLLER_GEN) $(KUSTOMIZE) $(PROMTOOL) $(PROMETHEUS) $(HELM) ## Check generated files, vet, lint the chart, and run every test against a real control plane and the real promtool.
	hack/verify-generated.sh
	$(HELM) lint --strict $(CHART)
	$(HELM) lint --strict $(CHART) --values $(CHART)/values-spot-placement.yaml
	hack/logging-operator-crds.sh >/dev/null
	go vet ./...
	hack/govulncheck.sh
	go test ./... -count=1 -timeout 30m

.PHONY: vuln
vuln: ## Fail on a known vulnerability reachable from the code (govulncheck, offline database; README, Supply chain).
	hack/govulncheck.sh

# hack/helmchart's tests (in go test ./...) compare the chart with config/, check its schema and flags, and
# dry-run what it templates against a real API server.
.PHONY: helm-template
helm-template: $(HELM) ## Print the chart's manifests (HELM_VALUES="-f charts/reliability-operator/values-spot-placement.yaml" for spot placement).
	@$(HELM) template reliability-operator $(CHART) --namespace reliability-operator-system $(HELM_VALUES)

.PHONY: demo
demo: envtest $(CONTROLLER_GEN) ## Run the operator against a local control plane with config/samples/ (KEEP=1 keeps it up).
	go run ./hack/demo

##@ Build and deploy

.PHONY: build
build: ## Build the operator binary into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/reliability-operator .

.PHONY: run
run: ## Run the operator against the cluster of the current kubeconfig.
	go run -ldflags "$(LDFLAGS)" . --leader-elect=false --validating-webhook=false

.PHONY: docker-build
docker-build: ## Build the container image.
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMG) .

.PHONY: install
install: $(KUSTOMIZE) ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) build config/crd | kubectl apply --server-side -f -

.PHONY: deploy
deploy: $(KUSTOMIZE) ## Deploy the operator (CRD, RBAC, Deployment, Services, NetworkPolicies, validating webhook) with kustomize; needs cert-manager.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | kubectl apply --server-side -f -

.PHONY: deploy-spot-placement
deploy-spot-placement: $(KUSTOMIZE) ## Deploy as `deploy` does, plus the spot placement webhook (P-3); needs cert-manager.
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/spot-placement | kubectl apply --server-side -f -

# The cluster-wide webhook configurations go first: a failurePolicy Fail webhook left pointing at a removed
# operator would refuse every write of a profile's spec.
.PHONY: undeploy
undeploy: $(KUSTOMIZE) ## Remove the operator, the validating webhook configuration first. Children stay until their profiles are deleted.
	kubectl delete --ignore-not-found validatingwebhookconfiguration reliability-operator-profile-validation
	$(KUSTOMIZE) build config/default | kubectl delete --ignore-not-found -f -

.PHONY: undeploy-spot-placement
undeploy-spot-placement: $(KUSTOMIZE) ## Remove what deploy-spot-placement installed, the cluster-wide webhook configurations first.
	kubectl delete --ignore-not-found validatingwebhookconfiguration reliability-operator-profile-validation
	kubectl delete --ignore-not-found mutatingwebhookconfiguration reliability-operator-spot-placement
	$(KUSTOMIZE) build config/spot-placement | kubectl delete --ignore-not-found -f -

##@ Tools

$(CONTROLLER_GEN):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $@

$(LOCALBIN)/promtool-$(PROMETHEUS_VERSION):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/prometheus/prometheus/cmd/promtool@$(PROMETHEUS_VERSION)
	mv $(LOCALBIN)/promtool $@

# The server without its web UI's built-in assets (the tests use its HTTP API only).
$(LOCALBIN)/prometheus-$(PROMETHEUS_VERSION):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install github.com/prometheus/prometheus/cmd/prometheus@$(PROMETHEUS_VERSION)
	mv $(LOCALBIN)/prometheus $@

# Helm from the module proxy, with the version stamps its own Makefile sets: without them helm reports
# v3.22 and templates and lints for Kubernetes 1.20 (the k8s.io modules of helm v3.22.0 are v0.37, so 1.37).
# `go install pkg@version` builds in the helm module's own context and leaves go.mod alone.
HELM_LDFLAGS := -s -w -X helm.sh/helm/v3/internal/version.version=$(HELM_VERSION) \
	-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 \
	-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37
$(LOCALBIN)/helm-$(HELM_VERSION):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install -ldflags "$(HELM_LDFLAGS)" helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(LOCALBIN)/helm $@

$(KUSTOMIZE):
	@mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(LOCALBIN)/kustomize $@
