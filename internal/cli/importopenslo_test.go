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

// TestImportedRatioProfilesValidateAndRenderRulesPromtoolAccepts is the whole path: OpenSLO in, profiles out,
// those profiles valid for `validate`, and the PrometheusRule `render` makes of them accepted by promtool.
func TestImportedRatioProfilesValidateAndRenderRulesPromtoolAccepts(t *testing.T) {
	code, profiles, errOut := run(t, "", "import", "openslo", "--tier", "non-critical", "--namespace", "shop", "-f", openslo("shop-ratio.yaml"))
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "Note: ") || !strings.Contains(errOut, "metadata.labels.serviceTier: left out") {
		t.Errorf("import did not note the list label it left out:\n%s", errOut)
	}
	if code, out, errOut := run(t, profiles, "validate", "-f", "-"); code != 0 || !strings.Contains(out, "1 profile(s) valid") {
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
	if checked != 1 {
		t.Fatalf("render made %d PrometheusRules of the imported profile, want 1", checked)
	}
}

// TestImportedPromQLProfilesPassTheCRD checks the promQL profiles against the CRD's schema and CEL rules.
// The webhook's layer of validate renders them, which internal/slo does not do for promQL on this branch
// yet; TestImportedPromQLProfilesValidate covers that once it does.
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

func TestImportedPromQLProfilesValidate(t *testing.T) {
	code, profiles, errOut := run(t, "", "import", "openslo", "--tier", "non-critical", "--selector", "app.kubernetes.io/name=search", "-f", openslo("shop-rates.yaml"))
	if code == 1 && strings.Contains(errOut, "set exactly one of ratio or latency") {
		t.Skip("internal/slo does not render promQL indicators on this branch yet, so the webhook's layer refuses them")
	}
	if code != 0 {
		t.Fatalf("import: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(profiles, "app.kubernetes.io/name: search") || !strings.Contains(profiles, "[$window]") {
		t.Errorf("import printed\n%s", profiles)
	}
	if code, out, errOut := run(t, profiles, "validate", "-f", "-"); code != 0 {
		t.Fatalf("validate of the imported profiles: exit %d\n%s%s\n%s", code, out, errOut, profiles)
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
