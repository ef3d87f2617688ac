package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Promtool is the real promtool: $PROMTOOL, or promtool on the PATH (.ci/run installs Debian's). Tests that
// need it fail without it rather than skip, so a green run always means the rules were checked.
func Promtool(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PROMTOOL"); p != "" {
		return p
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package or set PROMTOOL (`make test` does)")
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
