package render

import (
	"errors"
	"path/filepath"
	"testing"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

var sidecar = &DashboardConfigMapOptions{LabelKey: "grafana_dashboard", LabelValue: "1", FolderAnnotation: "grafana_folder"}

// dashboards returns the GrafanaDashboard and the dashboard ConfigMap among the rendered children, or nil.
func dashboards(t *testing.T, objs []any) (*grafanav1beta1.GrafanaDashboard, *corev1.ConfigMap) {
	t.Helper()
	var gd *grafanav1beta1.GrafanaDashboard
	var cm *corev1.ConfigMap
	for _, o := range objs {
		switch o := o.(type) {
		case *grafanav1beta1.GrafanaDashboard:
			gd = o
		case *corev1.ConfigMap:
			if cm != nil {
				t.Fatal("two ConfigMaps rendered")
			}
			cm = o
		}
	}
	return gd, cm
}

func renderAll(t *testing.T, rp *v1alpha1.ReliabilityProfile, opts Options) []any {
	t.Helper()
	objs, err := Render(rp, opts)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	out := make([]any, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

// TestTheDashboardConfigMapCarriesTheGrafanaDashboardsJSON renders every golden profile with both forms on:
// the ConfigMap's one data key holds the GrafanaDashboard's JSON byte for byte, and the ConfigMap carries the
// sidecar's label beside the operator's own.
func TestTheDashboardConfigMapCarriesTheGrafanaDashboardsJSON(t *testing.T) {
	cases, err := filepath.Glob("testdata/*/profile.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("found no golden cases: %v", err)
	}
	opts := Options{GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}},
		DashboardConfigMaps: sidecar}
	compared := 0
	for _, path := range cases {
		rp := readProfile(t, path)
		gd, cm := dashboards(t, renderAll(t, rp, opts))
		if gd == nil && cm == nil {
			continue // a profile without SLOs or with its dashboard disabled
		}
		if gd == nil || cm == nil {
			t.Fatalf("%s: GrafanaDashboard %v, ConfigMap %v: want both or neither", path, gd != nil, cm != nil)
		}
		key := DashboardConfigMapKey(rp.Namespace, rp.Name)
		if len(cm.Data) != 1 || cm.Data[key] != gd.Spec.JSON {
			t.Errorf("%s: ConfigMap data %v keys, want exactly %q holding the GrafanaDashboard's JSON", path, len(cm.Data), key)
		}
		if cm.Name != rp.Name+"-dashboard" || cm.Namespace != rp.Namespace {
			t.Errorf("%s: ConfigMap %s/%s, want %s/%s-dashboard", path, cm.Namespace, cm.Name, rp.Namespace, rp.Name)
		}
		for k, v := range map[string]string{"grafana_dashboard": "1", ManagedByLabel: ManagedByValue, ProfileLabel: rp.Name, ProfileNamespaceLabel: rp.Namespace} {
			if cm.Labels[k] != v {
				t.Errorf("%s: label %s = %q, want %q", path, k, cm.Labels[k], v)
			}
		}
		compared++
	}
	if compared < 2 {
		t.Fatalf("compared %d profiles' dashboards; the golden cases should give at least 2", compared)
	}
}

func TestTheDashboardConfigMapIsRenderedOnlyWhenAskedFor(t *testing.T) {
	rp := readProfile(t, "testdata/dashboards/profile.yaml")
	disabled := rp.DeepCopy()
	disabled.Spec.Dashboard = &v1alpha1.DashboardSpec{Disabled: true}
	selector := &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}}
	for _, tc := range []struct {
		name                  string
		rp                    *v1alpha1.ReliabilityProfile
		opts                  Options
		wantDashboard, wantCM bool
	}{
		{"without the option, only the GrafanaDashboard", rp, Options{GrafanaInstanceSelector: selector}, true, false},
		{"with the option alone, only the ConfigMap", rp, Options{DashboardConfigMaps: sidecar}, false, true},
		{"with both, both", rp, Options{GrafanaInstanceSelector: selector, DashboardConfigMaps: sidecar}, true, true},
		{"a profile whose dashboard is disabled, neither", disabled, Options{GrafanaInstanceSelector: selector, DashboardConfigMaps: sidecar}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gd, cm := dashboards(t, renderAll(t, tc.rp, tc.opts))
			if (gd != nil) != tc.wantDashboard || (cm != nil) != tc.wantCM {
				t.Errorf("GrafanaDashboard %v, ConfigMap %v; want %v, %v", gd != nil, cm != nil, tc.wantDashboard, tc.wantCM)
			}
		})
	}
}

func TestTheDashboardConfigMapHasNoFolderAnnotationUnlessOneIsNamed(t *testing.T) {
	rp := readProfile(t, "testdata/dashboards/profile.yaml")
	_, cm := dashboards(t, renderAll(t, rp, Options{DashboardConfigMaps: &DashboardConfigMapOptions{LabelKey: "dash", LabelValue: "yes"}}))
	if cm == nil || len(cm.Annotations) != 0 || cm.Labels["dash"] != "yes" {
		t.Fatalf("ConfigMap %+v: want the label dash=yes and no annotations", cm)
	}
}

// TestAnUnrenderableDashboardKeepsItsConfigMap: when the SLOs do not parse, the ConfigMap is reported under
// its own name, so that the controller keeps the last good one instead of pruning it.
func TestAnUnrenderableDashboardKeepsItsConfigMap(t *testing.T) {
	rp := readProfile(t, "testdata/dashboards/profile.yaml")
	rp.Spec.SLOs[0].Indicator.Ratio.Errors = `http_requests_total{`
	_, err := Render(rp, Options{DashboardConfigMaps: sidecar})
	var partial *PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("Render: %v, want a PartialError", err)
	}
	for _, f := range partial.Failures {
		if f.Kind == configMapKind {
			if f.Name != "payments-dashboard" {
				t.Errorf("ConfigMap failure named %q, want payments-dashboard", f.Name)
			}
			return
		}
	}
	t.Errorf("failures %+v name no ConfigMap", partial.Failures)
}

func TestTheFolderAnnotationStaysOneDirectoryInsideTheSidecarsFolder(t *testing.T) {
	for _, tc := range []struct{ folder, want string }{
		{"team-pay", "team-pay"},
		{"Payments Team", "Payments Team"},
		{"Équipe paiements", "Équipe paiements"},
		{"/etc/grafana", "_etc_grafana"},
		{"../../etc", ".._.._etc"},
		{"a/b", "a_b"},
		{`a\b`, "a_b"},
		{"..", "shop"},
		{".", "shop"},
		{" . ", "shop"},
		{"tab\there", "tab_here"},
	} {
		if got := folderDirectory(tc.folder, "shop"); got != tc.want {
			t.Errorf("folderDirectory(%q) = %q, want %q", tc.folder, got, tc.want)
		}
	}
}

func TestDashboardConfigMapOptionsAreReadFromTheFlags(t *testing.T) {
	for _, tc := range []struct {
		label, annotation string
		want              *DashboardConfigMapOptions
	}{
		{DefaultDashboardConfigMapLabel, "", &DashboardConfigMapOptions{LabelKey: "grafana_dashboard", LabelValue: "1"}},
		{"grafana_dashboard=", "grafana_folder", &DashboardConfigMapOptions{LabelKey: "grafana_dashboard", FolderAnnotation: "grafana_folder"}},
		{"example.com/dashboard=yes", "example.com/folder", &DashboardConfigMapOptions{LabelKey: "example.com/dashboard", LabelValue: "yes", FolderAnnotation: "example.com/folder"}},
		{"grafana_dashboard", "", nil},
		{"=1", "", nil},
		{"grafana dashboard=1", "", nil},
		{"grafana_dashboard=a/b", "", nil},
		{ManagedByLabel + "=x", "", nil},
		{ProfileLabel + "=x", "", nil},
		{DefaultDashboardConfigMapLabel, "reliability.dev/desired-hash", nil},
		{DefaultDashboardConfigMapLabel, "grafana folder", nil},
	} {
		got, err := NewDashboardConfigMapOptions(tc.label, tc.annotation)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("%q, %q: accepted as %+v, want refused", tc.label, tc.annotation, got)
		case tc.want != nil && (err != nil || *got != *tc.want):
			t.Errorf("%q, %q: %+v, %v; want %+v", tc.label, tc.annotation, got, err, tc.want)
		}
	}
}
