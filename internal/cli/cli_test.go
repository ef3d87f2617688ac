package cli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func crd(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilityprofiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Run(args, strings.NewReader(stdin), &out, &errOut, crd(t))
	return code, out.String(), errOut.String()
}

func samples() string { return filepath.Join(testenv.RepoRoot(), "config", "samples") }

func TestTheSamplesAreValid(t *testing.T) {
	code, out, errOut := run(t, "", "validate", "-f", samples())
	if code != 0 || !strings.Contains(out, "2 profile(s) valid") {
		t.Fatalf("validate config/samples: exit %d\n%s%s", code, out, errOut)
	}
}

func TestRenderPrintsEveryChildOfTheSamples(t *testing.T) {
	code, out, errOut := run(t, "", "render", "-o", "json", "-f", samples(), "--monitoring-labels", "release=kps")
	if code != 0 {
		t.Fatalf("render: exit %d: %s", code, errOut)
	}
	var list struct {
		Items []struct {
			Kind     string
			Metadata struct {
				Name   string
				Labels map[string]string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("render -o json printed no JSON list: %v\n%s", err, out)
	}
	var got []string
	for _, it := range list.Items {
		got = append(got, it.Kind+"/"+it.Metadata.Name)
		if (it.Kind == "ServiceMonitor" || it.Kind == "PrometheusRule") && it.Metadata.Labels["release"] != "kps" {
			t.Errorf("%s lacks the --monitoring-labels label: %v", it.Kind, it.Metadata.Labels)
		}
	}
	want := "ServiceMonitor/checkout PrometheusRule/checkout PodDisruptionBudget/checkout NetworkPolicy/checkout " +
		"ServiceMonitor/search PrometheusRule/search PodDisruptionBudget/search"
	if strings.Join(got, " ") != want {
		t.Errorf("rendered %s\nwant     %s", strings.Join(got, " "), want)
	}
}

func TestRenderAppliesTheCRDDefaults(t *testing.T) {
	profile := `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: shop}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
`
	code, out, errOut := run(t, profile, "render", "-f", "-")
	if code != 0 {
		t.Fatalf("render: exit %d: %s", code, errOut)
	}
	for _, want := range []string{"targetPort: 8067", "path: /metrics", "interval: 30s", "maxUnavailable: 1", "namespace: default"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered children lack %q:\n%s", want, out)
		}
	}
}

func TestValidateReportsEveryProblemWithFileObjectAndField(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "profiles.yaml")
	content := `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: promise, namespace: shop}
spec:
  service: shop
  tier: critical
  selector: {matchLabels: {app: shop}}
  slos:
    - name: availability
      objective: "99.5"
      externalObjective: "99.9"
      indicator: {ratio: {errors: 'x{code=~"5.."}', total: x}}
---
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: typo, namespace: shop}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
  retries: 3
---
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: query, namespace: shop}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
  slos:
    - name: errors
      objective: "99"
      indicator: {ratio: {errors: 'x{code=~"5.."', total: x}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stray}
---
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {namespace: shop}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, "", "validate", "-f", dir)
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{
		file + ":1: ReliabilityProfile shop/promise: spec.disasterRecovery.runbookURL: Invalid value: spec.disasterRecovery.runbookURL: required for tier critical (R-4",
		file + ":1: ReliabilityProfile shop/promise: spec.slos[0].objective: Invalid value: spec.slos[].objective: must be strictly higher than externalObjective (R-2",
		file + ":2: ReliabilityProfile shop/typo: spec.retries: Forbidden: unknown field",
		file + ":3: ReliabilityProfile shop/query: spec.slos[0].indicator.ratio.errors:",
		"unexpected end of input inside braces",
		file + ":4: ConfigMap default/stray: not a ReliabilityProfile",
		file + ":5: ReliabilityProfile shop/: metadata.name: Required value",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("validate output lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUsageErrorsExitWith2(t *testing.T) {
	for _, args := range [][]string{{}, {"render"}, {"validate", "-o", "xml", "-f", "x"}, {"validate", "--nope"}} {
		if code, _, _ := run(t, "", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// A typo of a subcommand, or a word the CLI does not know, is a usage error: main hands every command line
// whose first word is not a flag to the CLI, so such a line never starts the controller.
func TestAnUnknownWordIsAUsageErrorAndNeverTheController(t *testing.T) {
	for _, args := range [][]string{{"valdate", "-f", "x"}, {"serve"}, {"Validate", "-f", "x"}} {
		if !cli.IsCommandLine(args) {
			t.Errorf("%v would start the controller", args)
		}
		code, _, stderr := run(t, "", args...)
		if code != 2 || !strings.Contains(stderr, "unknown command") || !strings.Contains(stderr, "usage:") {
			t.Errorf("%v: exit %d, stderr %q; want 2 with the unknown command and the usage", args, code, stderr)
		}
	}
	for _, args := range [][]string{{}, {"--leader-elect=false"}, {"-zap-log-level", "debug"}} {
		if cli.IsCommandLine(args) {
			t.Errorf("%v are the controller's flags, not a command", args)
		}
	}
}

func TestVersionPrintsTheBuildsVersion(t *testing.T) {
	code, stdout, _ := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "reliability-operator ") || !strings.Contains(stdout, "revision") {
		t.Errorf("version: exit %d, %q", code, stdout)
	}
	if code, _, _ := run(t, "", "version", "--nope"); code != 2 {
		t.Errorf("version with an argument: exit %d, want 2", code)
	}
}
