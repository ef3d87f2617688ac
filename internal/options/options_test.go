package options

import (
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

func parse(t *testing.T, args ...string) (render.Options, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o render.Options
	BindRender(fs, &o)
	err := fs.Parse(args)
	return o, err
}

func TestTheDefaultsAreTheOperatorsDefaults(t *testing.T) {
	got, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	want := render.Options{VeleroNamespace: "velero", SLOWindowInterval: 2 * time.Minute}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

// Every field of render.Options must be reachable from the command line, or `render` could not reproduce
// what an operator with that setting applies: each flag's example must change the options, and together
// they must change every field.
func TestEveryRenderOptionHasAFlag(t *testing.T) {
	defaults, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, f := range renderFlags {
		arg := "--" + f.name + "=" + f.example
		all = append(all, arg)
		args := []string{arg}
		if f.with != "" {
			args = append(args, "--"+f.with) // a setting of a feature that is off by default
		}
		one, err := parse(t, args...)
		withOnly, _ := parse(t, args[1:]...)
		if err != nil {
			t.Errorf("%s: %v", arg, err)
		} else if reflect.DeepEqual(one, defaults) || (f.with != "" && reflect.DeepEqual(one, withOnly)) {
			t.Errorf("%s changed no option", arg)
		}
	}
	got, err := parse(t, all...)
	if err != nil {
		t.Fatal(err)
	}
	gv, dv := reflect.ValueOf(got), reflect.ValueOf(defaults)
	for i := range gv.NumField() {
		if reflect.DeepEqual(gv.Field(i).Interface(), dv.Field(i).Interface()) {
			t.Errorf("render.Options.%s is set by no flag: add its entry to renderFlags", gv.Type().Field(i).Name)
		}
	}
}

func TestFlagsParseIntoTheOptions(t *testing.T) {
	got, err := parse(t, "--monitoring-labels=release=kps,team=sre", "--velero-namespace=", "--slo-window-interval=90s",
		"--logging-cluster-outputs=critical=logs-30d,non-critical=logs-7d", "--grafana-instance-selector=dashboards in (grafana,shared)")
	if err != nil {
		t.Fatal(err)
	}
	want := render.Options{
		MonitoringLabels:      map[string]string{"release": "kps", "team": "sre"},
		SLOWindowInterval:     90 * time.Second,
		LoggingClusterOutputs: map[v1alpha1.Tier]string{v1alpha1.TierCritical: "logs-30d", v1alpha1.TierNonCritical: "logs-7d"},
		GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{}, MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "dashboards", Operator: metav1.LabelSelectorOpIn, Values: []string{"grafana", "shared"}}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options = %+v\nwant      %+v", got, want)
	}
}

func TestAValueThatDoesNotParseNamesItsFlag(t *testing.T) {
	for _, tc := range []struct{ arg, reason string }{
		{"--monitoring-labels=release", "invalid selector"},
		{"--monitoring-labels=Release Name=x", "release name"},
		{"--velero-namespace=Velero_NS", "is not a namespace name"},
		{"--slo-window-interval=5", "missing unit"},
		{"--slo-window-interval=-1m", "is negative"},
		{"--logging-cluster-outputs=gold=logs-1y", `"gold" is not a tier`},
		{"--logging-cluster-outputs=critical=", "has no ClusterOutput"},
		{"--grafana-instance-selector=dashboards in (", "dashboards"},
		{"--dashboard-configmap-label=grafana_dashboard", "want key=value"},
		{"--dashboard-configmap-label=reliability.dev/profile=x", "the operator's own"},
		{"--dashboard-configmap-folder-annotation=bad folder", "folder annotation"},
		{"--dashboard-configmaps=maybe", "invalid syntax"},
	} {
		t.Run(tc.arg, func(t *testing.T) {
			_, err := parse(t, tc.arg)
			name, _, _ := strings.Cut(strings.TrimPrefix(tc.arg, "--"), "=")
			if err == nil || !strings.Contains(err.Error(), "-"+name) || !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.reason)) {
				t.Errorf("error %v, want one naming -%s and saying %q", err, name, tc.reason)
			}
		})
	}
}

func TestTheHelpShowsEveryFlagWithItsDefault(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	var help strings.Builder
	fs.SetOutput(&help)
	BindRender(fs, &render.Options{})
	fs.PrintDefaults()
	for _, name := range RenderFlagNames() {
		if !strings.Contains(help.String(), "-"+name+" ") && !strings.Contains(help.String(), "-"+name+"\n") {
			t.Errorf("help lacks -%s:\n%s", name, help.String())
		}
	}
	for _, want := range []string{"(default velero)", "(default 2m)"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, help.String())
		}
	}
}
