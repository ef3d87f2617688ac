package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

const validProfile = `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: shop, namespace: shop}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
`

// mixedFolder is a GitOps folder as teams keep them: profiles beside the service's own manifests and
// kustomize files, with one file that does not parse and three misspelt profiles.
func mixedFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var gitopsFiles = map[string]string{
	"broken.yaml":        "apiVersion: reliability.dev/v1alpha1\nkind: ReliabilityProfile\nmetadata: {name: [unclosed\n",
	"deploy.yaml":        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop, namespace: shop}\nspec: {replicas: 2}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: shop, namespace: shop}\n",
	"kustomization.yaml": "resources: [deploy.yaml, profile.yaml]\npatches: [{path: patch.yaml}]\n",
	"patch.yaml":         "- op: replace\n  path: /spec/replicas\n  value: 3\n",
	"profile.yaml":       validProfile,
	"invalid.yaml":       strings.Replace(validProfile, "  tier: non-critical\n", "  tier: non-critical\n  retries: 3\n", 1),
	"typo-kind.yaml":     strings.Replace(validProfile, "kind: ReliabilityProfile", "kind: ReliabiltyProfile", 1),
	"typo-version.yaml":  strings.Replace(validProfile, "reliability.dev/v1alpha1", "reliability.dev/v1beta1", 1),
	"typo-group.yaml":    strings.Replace(validProfile, "reliability.dev/v1alpha1", "reliabilty.dev/v1alpha1", 1),
}

func TestValidateOfAMixedGitOpsFolder(t *testing.T) {
	dir := mixedFolder(t, gitopsFiles)
	f := func(name string) string { return filepath.Join(dir, name) }
	typoErrors := []string{
		f("typo-kind.yaml") + `:1: ReliabiltyProfile shop/shop: kind: "ReliabiltyProfile": reliability.dev has the kind ReliabilityProfile only`,
		f("typo-version.yaml") + `:1: ReliabilityProfile shop/shop: apiVersion: "reliability.dev/v1beta1": this build serves reliability.dev/v1alpha1 only`,
		f("typo-group.yaml") + `:1: ReliabilityProfile shop/shop: not a ReliabilityProfile of reliability.dev/v1alpha1 (apiVersion "reliabilty.dev/v1alpha1"`,
		f("invalid.yaml") + ":1: ReliabilityProfile shop/shop: spec.retries: Forbidden: unknown field",
		f("broken.yaml") + ": Document 1: ",
	}
	for _, tc := range []struct {
		name      string
		args      []string
		stderr    []string // lines (or their beginnings) that must be printed
		notStderr []string
		summary   string
	}{
		{
			name:    "without --skip-other-kinds every document that is not a profile fails",
			args:    []string{"validate", "-f", dir},
			stderr:  append([]string{f("deploy.yaml") + ":1: Deployment shop/shop: not a ReliabilityProfile", f("deploy.yaml") + ":2: Service shop/shop: not a ReliabilityProfile", f("patch.yaml") + ":1: <no kind> default/: not a Kubernetes object but a list; --skip-other-kinds skips it"}, typoErrors...),
			summary: "7 of 8 profile(s) invalid, 1 file(s) or document(s) not readable",
		},
		{
			name:      "with --skip-other-kinds the Deployment, Service and patch are skipped and counted, and the misspelt profiles still fail",
			args:      []string{"validate", "--skip-other-kinds", "-f", dir},
			stderr:    typoErrors,
			notStderr: []string{"deploy.yaml", "patch.yaml"},
			summary:   "4 of 5 profile(s) invalid, 1 file(s) or document(s) not readable, 3 document(s) of other kinds skipped",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing (the verdict goes to stderr when it fails)", stdout)
			}
			for _, want := range append(tc.stderr, tc.summary+"\n") {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, not := range tc.notStderr {
				if strings.Contains(stderr, not) {
					t.Errorf("stderr mentions %q:\n%s", not, stderr)
				}
			}
		})
	}
}

func TestSkippingOtherKindsOfAFolderWithValidProfilesSucceedsAndSaysWhatItSkipped(t *testing.T) {
	dir := mixedFolder(t, map[string]string{"deploy.yaml": gitopsFiles["deploy.yaml"], "patch.yaml": gitopsFiles["patch.yaml"],
		"profiles/shop.yaml": validProfile})
	code, stdout, stderr := run(t, "", "validate", "--skip-other-kinds", "-f", dir)
	if code != 0 || stdout != "1 profile(s) valid, 3 document(s) of other kinds skipped\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	// render of the same folder prints the children of the profile only, not the skipped documents.
	code, stdout, stderr = run(t, "", "render", "--skip-other-kinds", "-f", dir)
	if code != 0 || strings.Contains(stdout, "Deployment") || !strings.Contains(stdout, "kind: ServiceMonitor") {
		t.Errorf("render: exit %d, stderr %q\n%s", code, stderr, stdout)
	}
}

func TestValidateJSONIsOneReportWithTheSameExitCodes(t *testing.T) {
	mixed := mixedFolder(t, gitopsFiles)
	valid := mixedFolder(t, map[string]string{"shop.yaml": validProfile})
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		valid    bool
		summary  cli.Summary
		checked  map[string]bool // file name: valid
		skipped  []string
		problems map[string]cli.Problem // file name: one of its errors
	}{
		{
			name: "valid profiles exit 0", args: []string{"validate", "-o", "json", "-f", valid}, code: 0, valid: true,
			summary: cli.Summary{Profiles: 1, Valid: 1}, checked: map[string]bool{"shop.yaml:1": true},
		},
		{
			name: "a mixed folder, skipping other kinds, exits 1 with every verdict", args: []string{"validate", "-o", "json", "--skip-other-kinds", "-f", mixed},
			code: 1, summary: cli.Summary{Profiles: 5, Valid: 1, Invalid: 4, Skipped: 3, LoadErrors: 1},
			checked: map[string]bool{"invalid.yaml:1": false, "profile.yaml:1": true, "typo-group.yaml:1": false, "typo-kind.yaml:1": false, "typo-version.yaml:1": false},
			skipped: []string{"deploy.yaml:1", "deploy.yaml:2", "patch.yaml:1"},
			problems: map[string]cli.Problem{
				"invalid.yaml:1":      {Field: "spec.retries", Type: "Forbidden", Message: "Forbidden: unknown field"},
				"typo-kind.yaml:1":    {Field: "kind", Type: "Unsupported value", Message: `"ReliabiltyProfile": reliability.dev has the kind ReliabilityProfile only`},
				"typo-version.yaml:1": {Field: "apiVersion", Type: "Unsupported value", Message: `"reliability.dev/v1beta1": this build serves reliability.dev/v1alpha1 only`},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", tc.args...)
			if code != tc.code || stderr != "" {
				t.Errorf("exit %d, stderr %q; want %d and nothing on stderr", code, stderr, tc.code)
			}
			var r cli.Report
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("not one JSON report: %v\n%s", err, stdout)
			}
			if r.Valid != tc.valid || r.Summary != tc.summary {
				t.Errorf("valid %v, summary %+v; want %v, %+v", r.Valid, r.Summary, tc.valid, tc.summary)
			}
			checked := map[string]bool{}
			for _, d := range r.Documents {
				name := filepath.Base(d.Source)
				checked[name] = d.Valid
				if d.Errors == nil || d.Warnings == nil {
					t.Errorf("%s: errors or warnings are null, want lists", name)
				}
				if d.Valid != (len(d.Errors) == 0) {
					t.Errorf("%s: valid %v with errors %v", name, d.Valid, d.Errors)
				}
				if d.Name != "shop" || d.Namespace != "shop" || d.Kind == "" || d.APIVersion == "" {
					t.Errorf("%s: identified as %+v", name, d.DocumentID)
				}
				if want, ok := tc.problems[name]; ok && !containsProblem(d.Errors, want) {
					t.Errorf("%s: errors %+v lack %+v", name, d.Errors, want)
				}
			}
			if len(checked) != len(tc.checked) {
				t.Errorf("checked %v, want %v", checked, tc.checked)
			}
			for name, valid := range tc.checked {
				if v, ok := checked[name]; !ok || v != valid {
					t.Errorf("%s: checked %v valid %v, want checked and valid %v", name, ok, v, valid)
				}
			}
			var skipped []string
			for _, s := range r.Skipped {
				skipped = append(skipped, filepath.Base(s.Source))
			}
			if strings.Join(skipped, " ") != strings.Join(tc.skipped, " ") {
				t.Errorf("skipped %v, want %v", skipped, tc.skipped)
			}
			if tc.summary.LoadErrors > 0 {
				if len(r.LoadErrors) != 1 || filepath.Base(r.LoadErrors[0].Source) != "broken.yaml" || r.LoadErrors[0].Document != 1 || r.LoadErrors[0].Message == "" {
					t.Errorf("load errors %+v, want broken.yaml's document 1 with its reason", r.LoadErrors)
				}
			}
		})
	}
}

func containsProblem(ps []cli.Problem, want cli.Problem) bool {
	for _, p := range ps {
		if p.Field == want.Field && p.Type == want.Type && strings.HasPrefix(p.Message, want.Message) {
			return true
		}
	}
	return false
}

func TestValidateYAMLIsTheSameReport(t *testing.T) {
	code, stdout, _ := run(t, "", "validate", "-o", "yaml", "-f", samples())
	var r cli.Report
	if err := yaml.Unmarshal([]byte(stdout), &r); err != nil || code != 0 || !r.Valid || r.Summary.Valid != 2 {
		t.Errorf("exit %d, report %+v (%v):\n%s", code, r, err, stdout)
	}
}

// The flags that shape children are the operator's: render without them prints what the operator applies
// with its defaults, and each one changes the children as it changes the operator's.
func TestRenderTakesEveryFlagThatShapesChildren(t *testing.T) {
	backup := filepath.Join(testenv.RepoRoot(), "testdata", "profiles", "valid", "023-backup.yaml")
	for _, tc := range []struct {
		name string
		args []string
		want []string // "Kind namespace/name"
	}{
		{"the operator's defaults back up to the velero namespace", nil,
			[]string{"ServiceMonitor corpus/ok-023-backup", "PrometheusRule corpus/ok-023-backup", "PodDisruptionBudget corpus/ok-023-backup",
				"NetworkPolicy corpus/ok-023-backup", "Schedule velero/corpus-ok-023-backup-b55a33"}},
		{"an empty --velero-namespace renders no Schedule", []string{"--velero-namespace="},
			[]string{"ServiceMonitor corpus/ok-023-backup", "PrometheusRule corpus/ok-023-backup", "PodDisruptionBudget corpus/ok-023-backup", "NetworkPolicy corpus/ok-023-backup"}},
		{"every flag", []string{"--velero-namespace=backups", "--grafana-instance-selector=dashboards=grafana", "--logging-cluster-outputs=critical=logs-30d,non-critical=logs-7d", "--monitoring-labels=release=kps", "--slo-window-interval=1m"},
			[]string{"ServiceMonitor corpus/ok-023-backup", "PrometheusRule corpus/ok-023-backup", "PodDisruptionBudget corpus/ok-023-backup",
				"NetworkPolicy corpus/ok-023-backup", "Schedule backups/corpus-ok-023-backup-b55a33", "Flow corpus/ok-023-backup", "GrafanaDashboard corpus/ok-023-backup"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := run(t, "", append([]string{"render", "-o", "json", "-f", backup}, tc.args...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			var list struct {
				Items []map[string]any
			}
			if err := json.Unmarshal([]byte(stdout), &list); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range list.Items {
				meta := it["metadata"].(map[string]any)
				got = append(got, it["kind"].(string)+" "+meta["namespace"].(string)+"/"+meta["name"].(string))
			}
			if strings.Join(got, ", ") != strings.Join(tc.want, ", ") {
				t.Errorf("rendered %v\nwant     %v", got, tc.want)
			}
		})
	}
	code, stdout, _ := run(t, "", "render", "-f", backup, "--slo-window-interval=1m", "--monitoring-labels=release=kps")
	if code != 0 || !strings.Contains(stdout, "interval: 1m") || !strings.Contains(stdout, "release: kps") {
		t.Errorf("--slo-window-interval or --monitoring-labels did not reach the rules: exit %d\n%s", code, stdout)
	}
}

// validate renders too, as the admission webhook does with the operator's flags: a profile the operator
// could not render with them is refused.
func TestValidateChecksWithTheOperatorsFlags(t *testing.T) {
	onlyExpressions := filepath.Join(testenv.RepoRoot(), "testdata", "profiles", "valid", "034-selector-match-expressions.yaml")
	if code, _, stderr := run(t, "", "validate", "-f", onlyExpressions); code != 0 {
		t.Fatalf("without log outputs: exit %d: %s", code, stderr)
	}
	code, _, stderr := run(t, "", "validate", "-f", onlyExpressions, "--logging-cluster-outputs=critical=logs-30d,non-critical=logs-7d")
	if code != 1 || !strings.Contains(stderr, "spec.selector: ") || !strings.Contains(stderr, "Flows select pods by labels only") {
		t.Errorf("with log outputs: exit %d, want 1 naming spec.selector: %s", code, stderr)
	}
}

func TestAFlagValueThatDoesNotParseIsAUsageError(t *testing.T) {
	for _, args := range [][]string{
		{"render", "-f", samples(), "--velero-namespace=Not_A_Namespace"},
		{"validate", "-f", samples(), "--logging-cluster-outputs=gold=x"},
		{"validate", "-f", samples(), "--slo-window-interval=5"},
		{"render", "-o", "text", "-f", samples()},
		{"validate"},
		{"render", "--skip-other-kinds"},
	} {
		code, stdout, stderr := run(t, "", args...)
		if code != 2 || stdout != "" || stderr == "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2 with the reason on stderr", args, code, stdout, stderr)
		}
	}
}

// A pre-commit hook passes the staged files after the flags, without -f.
func TestFilesAfterTheFlagsAreReadAsWithF(t *testing.T) {
	dir := mixedFolder(t, map[string]string{"a.yaml": validProfile, "b.yaml": strings.Replace(validProfile, "name: shop,", "name: shop-b,", 1),
		"deploy.yaml": gitopsFiles["deploy.yaml"]})
	code, stdout, stderr := run(t, "", "validate", "--skip-other-kinds", filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml"), filepath.Join(dir, "deploy.yaml"))
	if code != 0 || stdout != "2 profile(s) valid, 2 document(s) of other kinds skipped\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = run(t, "", "validate", "-f", filepath.Join(dir, "a.yaml"), filepath.Join(dir, "missing.yaml"))
	if code != 1 || !strings.Contains(stderr, "missing.yaml: no such file or directory") {
		t.Errorf("a missing file: exit %d, stderr %q; want 1 naming it", code, stderr)
	}
}
