package cli_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	importer "github.com/reliability-operator/reliability-operator/internal/openslo"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

func openslo(name string) string {
	return filepath.Join(testenv.RepoRoot(), "internal", "openslo", "testdata", name)
}

// TestImportedProfilesValidateAndRenderRulesPromtoolAccepts is the whole path: OpenSLO in, profiles out,
// those profiles valid for `validate`, and the PrometheusRule `render` makes of them accepted by promtool; for
// a ratio of counter selectors, for rate expressions, and for the specification's own Prometheus ratioMetric.
func TestImportedProfilesValidateAndRenderRulesPromtoolAccepts(t *testing.T) {
	for _, tc := range []struct{ file, note, indicator string }{
		{"shop-ratio.yaml", "metadata.labels.serviceTier: left out", "ratio:"},
		{"shop-rates.yaml", "", "[$window]"},
		{"spec-ratio-prometheus.yaml", "", "sum(rate(localhost_server_requests{code=~"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			code, profiles, errOut := run(t, "", "import", "openslo", "--tier", "non-critical", "--namespace", "shop", "-f", openslo(tc.file))
			if code != 0 {
				t.Fatalf("import: exit %d\n%s", code, errOut)
			}
			if tc.note != "" && (!strings.Contains(errOut, "Note: ") || !strings.Contains(errOut, tc.note)) {
				t.Errorf("import did not note what it left out:\n%s", errOut)
			}
			if !strings.Contains(profiles, tc.indicator) {
				t.Errorf("import printed no %q:\n%s", tc.indicator, profiles)
			}
			if code, out, errOut := run(t, profiles, "validate", "-f", "-"); code != 0 || !strings.Contains(out, "profile(s) valid") {
				t.Fatalf("validate of the imported profiles: exit %d\n%s%s\n%s", code, out, errOut, profiles)
			}
			code, out, errOut := run(t, profiles, "render", "-o", "json", "-f", "-")
			if code != 0 {
				t.Fatalf("render of the imported profiles: exit %d\n%s", code, errOut)
			}
			var list struct {
				Items []struct {
					Kind string
					Spec struct {
						Groups []any `json:"groups"`
					}
				}
			}
			if err := json.Unmarshal([]byte(out), &list); err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, it := range list.Items {
				if it.Kind != "PrometheusRule" {
					continue
				}
				rules := filepath.Join(t.TempDir(), "rules.yaml")
				testenv.WriteYAML(t, rules, map[string]any{"groups": it.Spec.Groups})
				if b, err := exec.Command(testenv.Promtool(t), "check", "rules", rules).CombinedOutput(); err != nil {
					t.Fatalf("promtool check rules: %v\n%s", err, b)
				}
				checked++
			}
			if checked == 0 {
				t.Fatal("render made no PrometheusRule of the imported profiles")
			}
		})
	}
}

// TestImportedPromQLProfilesPassTheCRD checks the promQL profiles against the CRD's schema and CEL rules.
// (TestImportedProfilesValidateAndRenderRulesPromtoolAccepts runs the webhook's layer and promtool too.)
func TestImportedPromQLProfilesPassTheCRD(t *testing.T) {
	docs, err := cli.Load([]string{openslo("shop-rates.yaml")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]importer.Document, len(docs))
	for i, d := range docs {
		in[i] = importer.Document{Source: d.Source, Object: d.Object}
	}
	res := importer.Convert(in, importer.Options{Tier: "non-critical"})
	if len(res.Refusals) > 0 || len(res.Profiles) != 1 {
		t.Fatalf("profiles %v, refusals %v", res.Profiles, res.Refusals)
	}
	v, err := validate.New(crd(t), "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	if errs := v.Validate(res.Profiles[0].Object); len(errs) > 0 {
		t.Fatalf("the CRD refuses the imported promQL profile: %v", errs)
	}
}

func TestImportRefusesWithTheDocumentItsNameAndTheFieldAndPrintsNothing(t *testing.T) {
	code, out, errOut := run(t, "", "import", "openslo", "--tier", "non-critical", "-f", openslo("examples-timeslices-slo.yaml"))
	if code != 1 || out != "" {
		t.Fatalf("exit %d, printed %q", code, out)
	}
	if !strings.Contains(errOut, "examples-timeslices-slo.yaml:1: OpenSLO SLO service-availability: spec.timeWindow[0]: a calendar-aligned window is not imported") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestImportRefusesAProfileThatDoesNotValidate(t *testing.T) {
	// Tier critical needs a disaster-recovery runbook, which OpenSLO cannot give.
	code, out, errOut := run(t, "", "import", "openslo", "--tier", "critical", "-f", openslo("shop-ratio.yaml"))
	if code != 1 || out != "" {
		t.Fatalf("exit %d, printed %q", code, out)
	}
	if !strings.Contains(errOut, "shop-ratio.yaml:1") || !strings.Contains(errOut, "the ReliabilityProfile of service web-shop is not valid: spec.disasterRecovery.runbookURL") {
		t.Errorf("stderr:\n%s", errOut)
	}
}

func TestImportUsageErrors(t *testing.T) {
	f := openslo("shop-ratio.yaml")
	for _, args := range [][]string{
		{"import"},
		{"import", "sloth", "-f", f},
		{"import", "openslo", "-f", f},
		{"import", "openslo", "--tier", "gold", "-f", f},
		{"import", "openslo", "--tier", "critical"},
		{"import", "openslo", "--tier", "critical", "--selector", "app", "-f", f},
	} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
