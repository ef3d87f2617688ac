package cli_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// sameServiceTwice is two profiles of one service in two namespaces: in one file their groups would clash
// unless qualified.
const sameServiceTwice = `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: shop, namespace: eu}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
  slos:
    - name: availability
      objective: "99.9"
      indicator: {ratio: {errors: 'http_requests_total{code=~"5.."}', total: http_requests_total}}
---
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {name: shop, namespace: us}
spec:
  service: shop
  tier: non-critical
  selector: {matchLabels: {app: shop}}
  slos:
    - name: availability
      objective: "99.9"
      indicator: {ratio: {errors: 'http_requests_total{code=~"5.."}', total: http_requests_total}}
`

// promtoolCheckRules fails the test unless the real promtool accepts the rule file.
func promtoolCheckRules(t *testing.T, file string) {
	t.Helper()
	out, err := exec.Command(testenv.Promtool(t), "check", "rules", file).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules %s: %v\n%s", file, err, out)
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// prometheusRuleGroups is the groups of every PrometheusRule that `render -o yaml` prints, by
// "<namespace>/<name>".
func prometheusRuleGroups(t *testing.T, renderYAML string) map[string][]map[string]any {
	t.Helper()
	groups := map[string][]map[string]any{}
	for _, doc := range strings.Split(renderYAML, "---\n") {
		var obj struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
			Spec     struct {
				Groups []map[string]any `json:"groups"`
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj.Kind == "PrometheusRule" {
			groups[obj.Metadata.Namespace+"/"+obj.Metadata.Name] = obj.Spec.Groups
		}
	}
	if len(groups) == 0 {
		t.Fatal("render -o yaml printed no PrometheusRule")
	}
	return groups
}

func TestRenderRulesIsOneRuleFilePromtoolAccepts(t *testing.T) {
	for _, tc := range []struct {
		name, stdin string
		files       []string
		wantGroups  int
	}{
		{name: "the samples", files: []string{samples()}, wantGroups: 6},
		{name: "one service in two namespaces", stdin: sameServiceTwice, files: []string{"-"}, wantGroups: 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"render", "-o", "rules"}
			for _, f := range tc.files {
				args = append(args, "-f", f)
			}
			code, out, errOut := run(t, tc.stdin, args...)
			if code != 0 {
				t.Fatalf("render -o rules: exit %d: %s", code, errOut)
			}
			var file struct {
				Groups []struct{ Name string } `json:"groups"`
			}
			if err := yaml.Unmarshal([]byte(out), &file); err != nil {
				t.Fatal(err)
			}
			if len(file.Groups) != tc.wantGroups {
				t.Errorf("printed %d groups, want %d:\n%s", len(file.Groups), tc.wantGroups, out)
			}
			promtoolCheckRules(t, writeTemp(t, "rules.yaml", out))
		})
	}
}

func TestRenderRulesHasTheGroupsOfTheRenderedPrometheusRules(t *testing.T) {
	_, manifests, errOut := run(t, sameServiceTwice, "render", "-f", "-", "--alert-labels", "cluster=prod")
	want := prometheusRuleGroups(t, manifests)
	code, out, _ := run(t, sameServiceTwice, "render", "-o", "rules", "-f", "-", "--alert-labels", "cluster=prod")
	if code != 0 {
		t.Fatalf("render -o rules: exit %d: %s", code, errOut)
	}
	var file struct {
		Groups []map[string]any `json:"groups"`
	}
	if err := yaml.Unmarshal([]byte(out), &file); err != nil {
		t.Fatal(err)
	}
	got := map[string][]map[string]any{}
	for _, g := range file.Groups {
		// "<namespace>/<profile>/<group>": the qualification is the only difference.
		parts := strings.SplitN(g["name"].(string), "/", 3)
		if len(parts) != 3 {
			t.Fatalf("group name %q is not <namespace>/<profile>/<group>", g["name"])
		}
		g["name"] = parts[2]
		got[parts[0]+"/"+parts[1]] = append(got[parts[0]+"/"+parts[1]], g)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("render -o rules, names unqualified:\n%v\nthe PrometheusRules' groups:\n%v", got, want)
	}
}

func TestRenderRulesDirWritesOneFilePerProfileWithTheClusterGroupNames(t *testing.T) {
	_, manifests, _ := run(t, sameServiceTwice, "render", "-f", "-")
	want := prometheusRuleGroups(t, manifests)
	for _, format := range []string{"rules", "mimir-rules"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			code, out, errOut := run(t, sameServiceTwice, "render", "-o", format, "--rules-dir", dir, "-f", "-")
			if code != 0 || out != "" {
				t.Fatalf("render -o %s --rules-dir: exit %d, stdout %q: %s", format, code, out, errOut)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*"))
			if len(files) != len(want) {
				t.Fatalf("wrote %v, want one file per PrometheusRule (%d)", files, len(want))
			}
			for key, groups := range want {
				ns, name, _ := strings.Cut(key, "/")
				b, err := os.ReadFile(filepath.Join(dir, ns+"-"+name+".rules.yaml"))
				if err != nil {
					t.Fatal(err)
				}
				var file struct {
					Namespace string           `json:"namespace"`
					Groups    []map[string]any `json:"groups"`
				}
				if err := yaml.Unmarshal(b, &file); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(file.Groups, groups) {
					t.Errorf("%s: groups differ from the PrometheusRule's:\n%s", key, b)
				}
				wantNamespace := ""
				if format == "mimir-rules" {
					wantNamespace = ns + "-" + name
				}
				if file.Namespace != wantNamespace {
					t.Errorf("%s: namespace %q, want %q", key, file.Namespace, wantNamespace)
				}
				if format == "rules" {
					promtoolCheckRules(t, filepath.Join(dir, ns+"-"+name+".rules.yaml"))
				}
			}
		})
	}
}

func TestRenderMimirRulesPrintsOneNamespacePerProfile(t *testing.T) {
	code, out, errOut := run(t, sameServiceTwice, "render", "-o", "mimir-rules", "-f", "-")
	if code != 0 {
		t.Fatalf("render -o mimir-rules: exit %d: %s", code, errOut)
	}
	var namespaces []string
	for _, doc := range bytes.Split([]byte(out), []byte("---\n")) {
		if len(doc) == 0 {
			continue
		}
		var file struct {
			Namespace string `json:"namespace"`
		}
		if err := yaml.Unmarshal(doc, &file); err != nil {
			t.Fatal(err)
		}
		namespaces = append(namespaces, file.Namespace)
	}
	if strings.Join(namespaces, " ") != "eu-shop us-shop" {
		t.Errorf("mimir namespaces %v, want eu-shop us-shop", namespaces)
	}
}

func TestRenderRulesDirNeedsARulesOutput(t *testing.T) {
	if code, _, _ := run(t, sameServiceTwice, "render", "--rules-dir", t.TempDir(), "-f", "-"); code != 2 {
		t.Errorf("render -o yaml --rules-dir: exit %d, want 2 (a usage error)", code)
	}
}

func TestRenderRulesTakesThePolicyAsRenderDoes(t *testing.T) {
	policy := writeTemp(t, "policy.yaml", `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityPolicy
metadata: {name: default}
spec:
  alerting:
    labels: {cluster: prod-eu}
    pageSeverity: critical
`)
	// The policy's CRD beside the profile's, as the binary embeds both.
	withPolicyCRD := func(args ...string) (int, string, string) {
		b, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilitypolicies.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := cli.Run(args, strings.NewReader(sameServiceTwice), &out, &errOut, append(append(crd(t), "\n---\n"...), b...))
		return code, out.String(), errOut.String()
	}
	_, manifests, errOut := withPolicyCRD("render", "--policy", policy, "-f", "-")
	want := prometheusRuleGroups(t, manifests)
	dir := t.TempDir()
	if code, _, errOut := withPolicyCRD("render", "-o", "rules", "--rules-dir", dir, "--policy", policy, "-f", "-"); code != 0 {
		t.Fatalf("render -o rules --policy: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(filepath.Join(dir, "eu-shop.rules.yaml"))
	if err != nil {
		t.Fatal(err, errOut)
	}
	var file struct {
		Groups []map[string]any `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(file.Groups, want["eu/shop"]) {
		t.Errorf("render -o rules --policy differs from render --policy's PrometheusRule:\n%s", b)
	}
	if !strings.Contains(string(b), "cluster: prod-eu") || !strings.Contains(string(b), "severity: critical") {
		t.Errorf("the policy's alert labels and page severity are not in the rules:\n%s", b)
	}
}
