package testenv

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// HelmVersion is the Helm release `make test` builds into bin/ from the Go module proxy (the Makefile's
// HELM_VERSION).
const HelmVersion = "v3.22.0"

// KustomizeVersion is the kustomize `make test` builds into bin/ (the Makefile's KUSTOMIZE_VERSION).
const KustomizeVersion = "v5.8.2"

// CertManagerModule holds cert-manager's CRDs in deploy/crds, for the Issuers and Certificates of the
// chart and of config/certmanager.
const CertManagerModule = "github.com/cert-manager/cert-manager@v1.14.5"

// Helm is $HELM, or the helm `make test` builds into bin/. Tests that need it fail without it rather than
// skip, so a green run always means the chart was checked; a helm on the PATH is not taken, being of
// whatever version the machine has.
func Helm(t testing.TB) string {
	t.Helper()
	return repoTool(t, "HELM", "helm-"+HelmVersion)
}

// Kustomize is $KUSTOMIZE, or the kustomize `make test` builds into bin/.
func Kustomize(t testing.TB) string {
	t.Helper()
	return repoTool(t, "KUSTOMIZE", "kustomize-"+KustomizeVersion)
}

func repoTool(t testing.TB, env, file string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p := filepath.Join(RepoRoot(), "bin", file)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found: run `make test`, which builds it from the Go module proxy, or set %s", p, env)
	}
	return p
}

// helmDirective is a line of cert-manager's CRD files that its Helm chart fills in (labels only).
var helmDirective = regexp.MustCompile(`(?m)^.*\{\{.*\}\}.*\n`)

// CertManagerCRDDir writes cert-manager's Issuer and Certificate CRDs, without the lines its own Helm chart
// templates, into a temporary folder for envtest.
func CertManagerCRDDir(t testing.TB) string {
	t.Helper()
	src, err := ModuleDir(CertManagerModule)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"crd-issuers.yaml", "crd-certificates.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, "deploy", "crds", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), helmDirective.ReplaceAll(b, nil), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
