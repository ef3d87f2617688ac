package render

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

// goldenOptions are the operator flags the golden cases are rendered with.
var goldenOptions = map[string]Options{
	"full": {MonitoringLabels: map[string]string{"release": "kube-prometheus-stack"},
		GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}},
		VeleroNamespace:         "velero"},
	"latency": {GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}}},
	"dashboards": {GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}},
		DashboardConfigMaps: &DashboardConfigMapOptions{LabelKey: "grafana_dashboard", LabelValue: "1", FolderAnnotation: "grafana_folder"}},
	"alert-labels": {AlertLabels: map[string]string{"cluster": "prod-eu", "team": "payments"}},
	"logging":      {LoggingClusterOutputs: map[v1alpha1.Tier]string{v1alpha1.TierCritical: "logs-30d", v1alpha1.TierNonCritical: "logs-7d"}},
}

// TestRenderMatchesGoldenFiles renders every testdata/<case>/profile.yaml and compares the children, one
// YAML document each, with testdata/<case>/children.golden.yaml. Run `go test ./internal/render -update`
// (or `make golden`) after an intended change, and review the diff.
func TestRenderMatchesGoldenFiles(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/profile.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("found no golden cases: %v", err)
	}
	for _, profilePath := range cases {
		dir := filepath.Dir(profilePath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			rp := readProfile(t, profilePath)
			objs, err := Render(rp, goldenOptions[filepath.Base(dir)])
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			var got bytes.Buffer
			for _, o := range objs {
				u, err := Manifest(o)
				if err != nil {
					t.Fatal(err)
				}
				b, err := yaml.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				got.WriteString("---\n")
				got.Write(b)
			}
			goldenPath := filepath.Join(dir, "children.golden.yaml")
			if *update {
				if err := os.WriteFile(goldenPath, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("rendered children differ from %s (run with -update if intended)\n--- got ---\n%s", goldenPath, got.String())
			}
		})
	}
}

func readProfile(t *testing.T, path string) *v1alpha1.ReliabilityProfile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rp := &v1alpha1.ReliabilityProfile{}
	if err := yaml.UnmarshalStrict(b, rp); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rp
}

// TestAPlatformAlertLabelNamedLikeAGroupByLabelStaysOffTheGroupedAlerts: the PrometheusRule keeps what
// slo.Groups decided for a grouped SLO's alerts (each group its own value of the label), while the other
// groups' alerts carry the platform label.
func TestAPlatformAlertLabelNamedLikeAGroupByLabelStaysOffTheGroupedAlerts(t *testing.T) {
	rp := &v1alpha1.ReliabilityProfile{}
	rp.Name, rp.Namespace = "api", "shop"
	rp.Spec.Service, rp.Spec.Tier = "api", v1alpha1.TierNonCritical
	rp.Spec.GameDays = &v1alpha1.GameDaySpec{}
	rp.Spec.SLOs = []v1alpha1.SLO{{Name: "availability", Objective: "99.9", Window: "30d", GroupBy: []string{"region"},
		Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: `e_total`, Total: `t_total`}}}}
	pr, err := PrometheusRule(rp, Options{AlertLabels: map[string]string{"region": "eu"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			_, set := r.Labels["region"]
			if grouped := strings.HasPrefix(g.Name, "api-slo-"); set == grouped {
				t.Errorf("%s in %s: region label set = %v", r.Alert, g.Name, set)
			}
		}
	}
}
