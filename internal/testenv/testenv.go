// Package testenv starts a real control plane (kube-apiserver and etcd, built by hack/envtest-assets.sh) with
// the operator's CRDs and the real CRDs of the upstream projects it writes to, read from the Go module cache
// at pinned versions. It is imported by tests, and by the scale benchmark hack/bench.
package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// PrometheusOperatorModule is the prometheus-operator main module whose example/prometheus-operator-crd
// holds the CRD YAML. The main module is pinned on its own: the proxy refuses its newer versions, while the
// Go API module (go.mod) is at v0.95.1; both describe the same monitoring.coreos.com/v1 kinds.
const PrometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.94.0"

// GrafanaOperatorModule holds grafana-operator's CRDs in config/crd/bases, at the version of the Go API in
// go.mod.
const GrafanaOperatorModule = "github.com/grafana/grafana-operator/v5@v5.25.0"

// VeleroModule holds Velero's CRDs in config/crd/v1/bases, at the version of the Go API in go.mod.
const VeleroModule = "github.com/vmware-tanzu/velero@v1.18.3"

// GatewayAPIModule holds the Gateway API's CRDs in config/crd/standard (the standard channel), at the version
// of the Go API in go.mod. The operator reads its routes for S-2; it writes none.
const GatewayAPIModule = "sigs.k8s.io/gateway-api@v1.6.1"

// RepoRoot is the root folder of this repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// AssetsDir is KUBEBUILDER_ASSETS, or the newest folder hack/envtest-assets.sh built under bin/k8s.
func AssetsDir() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "*"))
	sort.Strings(dirs)
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "kube-apiserver")); err == nil {
			return dirs[i], nil
		}
	}
	return "", fmt.Errorf("no control plane binaries: run `make envtest` (hack/envtest-assets.sh) or set KUBEBUILDER_ASSETS")
}

// ModuleDir downloads a module version into the module cache if needed and returns its folder.
func ModuleDir(moduleAtVersion string) (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", moduleAtVersion).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("go mod download %s: %v %s %s", moduleAtVersion, err, out, stderr)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no folder (%v %s)", moduleAtVersion, err, info.Error)
	}
	return info.Dir, nil
}

// LoggingOperatorCRDDir holds logging-operator's CRDs, generated from its Go SDK by
// hack/logging-operator-crds.sh (the proxy serves no version of the module that holds the YAML).
func LoggingOperatorCRDDir() (string, error) {
	out, err := exec.Command(filepath.Join(RepoRoot(), "hack", "logging-operator-crds.sh")).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		return "", fmt.Errorf("hack/logging-operator-crds.sh: %v %s", err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// CRDDirs are the folders of every CRD the tests install: the operator's own, prometheus-operator's,
// grafana-operator's, Velero's, logging-operator's and the Gateway API's.
func CRDDirs() ([]string, error) {
	promDir, err := ModuleDir(PrometheusOperatorModule)
	if err != nil {
		return nil, err
	}
	grafanaDir, err := ModuleDir(GrafanaOperatorModule)
	if err != nil {
		return nil, err
	}
	veleroDir, err := ModuleDir(VeleroModule)
	if err != nil {
		return nil, err
	}
	loggingDir, err := LoggingOperatorCRDDir()
	if err != nil {
		return nil, err
	}
	gatewayDir, err := ModuleDir(GatewayAPIModule)
	if err != nil {
		return nil, err
	}
	return []string{
		OwnCRDDir(),
		filepath.Join(promDir, "example", "prometheus-operator-crd"),
		filepath.Join(grafanaDir, "config", "crd", "bases"),
		filepath.Join(veleroDir, "config", "crd", "v1", "bases"),
		loggingDir,
		// Its ValidatingAdmissionPolicy (vap_safeupgrades.yaml) is not a CRD, and envtest skips it.
		filepath.Join(gatewayDir, "config", "crd", "standard"),
	}, nil
}

// OwnCRDDir is the folder of the operator's own CRDs, every one config/crd lists (ReliabilityProfile,
// ReliabilityPolicy): envtest installs each file of it.
func OwnCRDDir() string {
	return filepath.Join(RepoRoot(), "config", "crd", "bases")
}

// Start starts the control plane with every CRD installed. Stop it with env.Stop().
func Start() (*envtest.Environment, *rest.Config, error) {
	dirs, err := CRDDirs()
	if err != nil {
		return nil, nil, err
	}
	return StartWithCRDs(dirs...)
}

// StartWithCRDs starts the control plane with the CRDs of the given folders only, to test the operator in a
// cluster that lacks an upstream project.
func StartWithCRDs(dirs ...string) (*envtest.Environment, *rest.Config, error) {
	return start(dirs, nil)
}

// StartWithWebhooks starts the control plane with every CRD and the webhook configurations that config/
// ships, pointed at a local webhook server: serve it at env.WebhookInstallOptions' LocalServingHost,
// LocalServingPort and LocalServingCertDir.
func StartWithWebhooks() (*envtest.Environment, *rest.Config, error) {
	dirs, err := CRDDirs()
	if err != nil {
		return nil, nil, err
	}
	return start(dirs, []string{WebhookManifests(), ValidatingWebhookManifests()})
}

// WebhookManifests is the file of the spot placement webhook's configuration that config/ ships.
func WebhookManifests() string {
	return filepath.Join(RepoRoot(), "config", "webhook", "manifests.yaml")
}

// ValidatingWebhookManifests is the file of the ReliabilityProfile validating webhook's configuration.
func ValidatingWebhookManifests() string {
	return filepath.Join(RepoRoot(), "config", "webhook", "validating.yaml")
}

// StartWithAPIServerFlags starts the control plane with every CRD and these kube-apiserver flags besides
// envtest's, such as an audit policy and log to count a client's requests at the server.
func StartWithAPIServerFlags(flags map[string]string) (*envtest.Environment, *rest.Config, error) {
	dirs, err := CRDDirs()
	if err != nil {
		return nil, nil, err
	}
	return startWith(dirs, nil, flags)
}

func start(dirs, webhookPaths []string) (*envtest.Environment, *rest.Config, error) {
	return startWith(dirs, webhookPaths, nil)
}

func startWith(dirs, webhookPaths []string, apiServerFlags map[string]string) (*envtest.Environment, *rest.Config, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     dirs,
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{Paths: webhookPaths},
	}
	// OpenShift and hardened clusters run this plugin: it refuses blockOwnerDeletion on a child unless the
	// writer may update the owner's finalizers. Enabled here so that the RBAC is tested against it.
	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	for name, value := range apiServerFlags {
		env.ControlPlane.GetAPIServer().Configure().Set(name, value)
	}
	cfg, err := env.Start()
	if err != nil {
		// envtest leaves etcd and the API server running when a CRD fails to install: stop them, or each
		// failed run leaves two processes eating the machine's CPU.
		_ = env.Stop()
		return nil, nil, fmt.Errorf("starting the control plane from %s: %w", assets, err)
	}
	return env, cfg, nil
}
