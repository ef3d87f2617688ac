package render

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestGoldenRulesPassPromtoolCheck runs `promtool check rules` on the rule groups of every golden
// PrometheusRule.
func TestGoldenRulesPassPromtoolCheck(t *testing.T) {
	promtool := testenv.Promtool(t)
	goldens, _ := filepath.Glob("testdata/*/children.golden.yaml")
	checked := 0
	for _, golden := range goldens {
		b, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(b, []byte("\n---\n")) {
			var obj struct {
				Kind string
				Spec struct {
					Groups []any `json:"groups"`
				}
			}
			if err := yaml.Unmarshal(bytes.TrimPrefix(doc, []byte("---\n")), &obj); err != nil {
				t.Fatalf("%s: %v", golden, err)
			}
			if obj.Kind != "PrometheusRule" {
				continue
			}
			rules, err := yaml.Marshal(map[string]any{"groups": obj.Spec.Groups})
			if err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(file, rules, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "SUCCESS") {
				t.Errorf("promtool check rules %s: %v\n%s", golden, err, out)
			}
			checked++
		}
	}
	if checked < len(goldens) {
		t.Errorf("checked %d PrometheusRules in %d golden files; every golden case should have one", checked, len(goldens))
	}
}
