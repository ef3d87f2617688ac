package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// PrometheusVersion is the version of the Prometheus 3 module whose promtool and server `make test` builds
// into bin/ (the Makefile's PROMETHEUS_VERSION).
const PrometheusVersion = "v0.316.0"

// Promtool is the real promtool of Prometheus 3: $PROMTOOL, or the one `make test` builds into bin/. Tests
// that need it fail without it rather than skip, so a green run always means the rules were checked.
func Promtool(t testing.TB) string {
	t.Helper()
	return prometheusBinary(t, "PROMTOOL", "promtool")
}

// prometheusBinary is $env, or bin/<name>-<PrometheusVersion> of this repository. A binary on the PATH is
// not taken: it may be another major version than the one users run (Debian's is Prometheus 2).
func prometheusBinary(t testing.TB, env, name string) string {
	if p := os.Getenv(env); p != "" {
		return p
	}
	p := filepath.Join(RepoRoot(), "bin", name+"-"+PrometheusVersion)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found: run `make test`, which builds %s from the Go module proxy, or set %s", name, p, env)
	}
	return p
}

// WriteYAML writes v as YAML to path, such as a rule file or a promtool test file.
func WriteYAML(t testing.TB, path string, v any) {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// PromtoolTestRules runs `promtool test rules` on a test file and fails the test unless it succeeds.
func PromtoolTestRules(t testing.TB, testFile string) {
	t.Helper()
	out, err := exec.Command(Promtool(t), "test", "rules", testFile).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("promtool test rules %s: %v\n%s", testFile, err, out)
	}
}

// ShippedRules writes the groups of a PrometheusRule that config/prometheus ships (file, such as
// spot_rules.yaml) as a rule file in dir, checks it with `promtool check rules` and returns its path, for a
// `promtool test rules` scenario.
func ShippedRules(t testing.TB, file, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(RepoRoot(), "config", "prometheus", file))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec map[string]any `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	rules := filepath.Join(dir, "rules.yaml")
	WriteYAML(t, rules, rule.Spec)
	if out, err := exec.Command(Promtool(t), "check", "rules", rules).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", file, err, out)
	}
	return rules
}
