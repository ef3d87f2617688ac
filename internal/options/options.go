// Package options binds the command-line flags that shape a profile's children (render.Options) in one place,
// for the controller (main.go) and the offline CLI (render and validate, internal/cli): the same names,
// defaults, help and parse errors, so that `render` with the operator's flags prints what the operator
// applies. It parses flags and does nothing else; internal/render stays free of flag parsing, and the
// controller's other flags (addresses, leader election, webhooks, Prometheus, Loki) stay in main.go.
package options

import (
	"flag"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8svalidation "k8s.io/apimachinery/pkg/util/validation"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// renderFlag is one flag of render.Options: its name, its default as it would be typed on the command line,
// its help, a value other than the default (the tests check with it that the flag reaches its field), and
// how a value is parsed into the options. set leaves the options as they were when the value does not parse.
type renderFlag struct {
	name, defaultValue, usage, example string
	set                                func(o *render.Options, st *bindState, value string) error
	// boolean flags may be given without a value (--dashboard-configmaps).
	boolean bool
	// with is another flag the example takes effect with (a setting of a feature that is off by default).
	with string
}

// bindState holds what several flags decide together, for one binding: the dashboard ConfigMaps are on or
// off, with a label and a folder annotation that apply only when they are on.
type bindState struct {
	dashboardConfigMaps                 bool
	dashboardLabel, dashboardAnnotation string
}

// applyDashboardConfigMaps sets render.Options.DashboardConfigMaps from the three flags, checking the label
// and the annotation even while off, so that a wrong value fails at start-up and not the day it is turned on.
func (st *bindState) applyDashboardConfigMaps(o *render.Options) error {
	dcm, err := render.NewDashboardConfigMapOptions(st.dashboardLabel, st.dashboardAnnotation)
	if err != nil {
		return err
	}
	o.DashboardConfigMaps = nil
	if st.dashboardConfigMaps {
		o.DashboardConfigMaps = dcm
	}
	return nil
}

// renderFlags are every flag that shapes children. A field added to render.Options gets its one entry here;
// TestEveryRenderOptionHasAFlag fails until it has one.
var renderFlags = []renderFlag{
	{name: "monitoring-labels", defaultValue: "", usage: "Labels added to ServiceMonitors and PrometheusRules so that Prometheus selects them, such as release=kube-prometheus-stack.", example: "release=kube-prometheus-stack",
		set: func(o *render.Options, _ *bindState, v string) error { return setLabels(&o.MonitoringLabels, v) }},
	{name: "alert-labels", defaultValue: "", usage: "Labels added to every alert of every profile, for Alertmanager routing, such as cluster=prod-eu,env=prod (Prometheus label names; severity, service, slo, namespace and alertname are the operator's). The ReliabilityPolicy's spec.alerting.labels replace them.", example: "cluster=prod-eu",
		set: func(o *render.Options, _ *bindState, v string) error { return setAlertLabels(&o.AlertLabels, v) }},
	{name: "velero-namespace", defaultValue: "velero", usage: "Namespace where Velero reads Schedules; backups of profiles become Schedules there (none when empty).", example: "backups",
		set: func(o *render.Options, _ *bindState, v string) error { return setNamespace(&o.VeleroNamespace, v) }},
	{name: "slo-window-interval", defaultValue: "2m", usage: "How often Prometheus evaluates the SLO-window rules (the whole-window ratio and the budget remaining).", example: "1m",
		set: func(o *render.Options, _ *bindState, v string) error { return setDuration(&o.SLOWindowInterval, v) }},
	{name: "logging-cluster-outputs", defaultValue: "", usage: "logging-operator ClusterOutputs per log tier, such as critical=logs-30d,non-critical=logs-7d: each profile gets a Flow to its tier's output (O-5); off when empty.", example: "critical=logs-30d,non-critical=logs-7d",
		set: func(o *render.Options, _ *bindState, v string) error {
			return setTierOutputs(&o.LoggingClusterOutputs, v)
		}},
	{name: "grafana-instance-selector", defaultValue: "", usage: "Label selector of the grafana-operator Grafana instances that show the SLO dashboards, such as dashboards=grafana (no dashboards when empty).", example: "dashboards=grafana",
		set: func(o *render.Options, _ *bindState, v string) error {
			return setSelector(&o.GrafanaInstanceSelector, v)
		}},
	{name: "dashboard-configmaps", defaultValue: "false", example: "true", boolean: true,
		usage: "Render each profile's dashboard also as a ConfigMap <profile>-dashboard in the profile's namespace, for the dashboard sidecar of Grafana (kube-prometheus-stack); set the sidecar's searchNamespace to ALL or to the teams' namespaces. Works with or without --grafana-instance-selector. Turned off, the operator deletes the ConfigMaps it made.",
		set: func(o *render.Options, st *bindState, v string) error {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return err
			}
			st.dashboardConfigMaps = on
			return st.applyDashboardConfigMaps(o)
		}},
	{name: "dashboard-configmap-label", defaultValue: render.DefaultDashboardConfigMapLabel, example: "grafana_dashboard=yes", with: "dashboard-configmaps",
		usage: "key=value of the label the Grafana sidecar loads dashboards from (sidecar.dashboards.label and labelValue; an empty value for a sidecar without labelValue), with --dashboard-configmaps.",
		set: func(o *render.Options, st *bindState, v string) error {
			st.dashboardLabel = v
			return st.applyDashboardConfigMaps(o)
		}},
	{name: "dashboard-configmap-folder-annotation", defaultValue: "", example: "grafana_folder", with: "dashboard-configmaps",
		usage: "The Grafana sidecar's folder annotation (sidecar.dashboards.folderAnnotation, such as grafana_folder, with provider.foldersFromFilesStructure), with --dashboard-configmaps: each dashboard goes to the folder of its profile's namespace or spec.dashboard.folder. None when empty.",
		set: func(o *render.Options, st *bindState, v string) error {
			st.dashboardAnnotation = v
			return st.applyDashboardConfigMaps(o)
		}},
}

// BindRender registers every flag of render.Options on fs, and sets o to their defaults. fs.Parse then
// parses each value into o, and fails with the flag's name and the reason when one does not parse.
func BindRender(fs *flag.FlagSet, o *render.Options) {
	st := &bindState{dashboardLabel: render.DefaultDashboardConfigMapLabel}
	for _, f := range renderFlags {
		if err := f.set(o, st, f.defaultValue); err != nil {
			panic(fmt.Sprintf("the default of --%s does not parse: %v", f.name, err)) // caught by the package's tests
		}
		fs.Var(&renderValue{flag: f, options: o, state: st, text: f.defaultValue}, f.name, f.usage)
	}
}

// RenderFlagNames are the names of the flags BindRender registers, for help texts and tests.
func RenderFlagNames() []string {
	names := make([]string, 0, len(renderFlags))
	for _, f := range renderFlags {
		names = append(names, f.name)
	}
	return names
}

// renderValue is the flag.Value of one renderFlag, writing into the bound options.
type renderValue struct {
	flag    renderFlag
	options *render.Options
	state   *bindState
	text    string
}

// IsBoolFlag lets a boolean flag stand without a value, as the flag package's own do.
func (v *renderValue) IsBoolFlag() bool { return v != nil && v.flag.boolean }

func (v *renderValue) String() string {
	if v == nil { // the flag package calls String on a zero value to find out whether a default is worth printing
		return ""
	}
	return v.text
}

func (v *renderValue) Set(s string) error {
	if err := v.flag.set(v.options, v.state, s); err != nil {
		return err
	}
	v.text = s
	return nil
}

func setLabels(dst *map[string]string, v string) error {
	m, err := labels.ConvertSelectorToLabelsMap(v) // checks each key and value as label syntax
	if err != nil {
		return err
	}
	if len(m) == 0 {
		m = nil
	}
	*dst = m
	return nil
}

var promLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// setAlertLabels reads key=value pairs whose keys are Prometheus label names the operator does not set.
func setAlertLabels(dst *map[string]string, v string) error {
	m := map[string]string{}
	for _, pair := range strings.Split(v, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, val, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		switch {
		case !ok:
			return fmt.Errorf("%q is not key=value", pair)
		case !promLabelName.MatchString(k):
			return fmt.Errorf("%q is not a Prometheus label name (letters, digits and '_', not starting with a digit)", k)
		case slices.Contains(v1alpha1.OperatorAlertLabels, k):
			return fmt.Errorf("%q is set by the operator on every alert", k)
		}
		m[k] = val
	}
	if len(m) == 0 {
		m = nil
	}
	*dst = m
	return nil
}

func setNamespace(dst *string, v string) error {
	if v != "" {
		if errs := k8svalidation.IsDNS1123Label(v); len(errs) > 0 {
			return fmt.Errorf("%q is not a namespace name: %s", v, strings.Join(errs, "; "))
		}
	}
	*dst = v
	return nil
}

func setDuration(dst *time.Duration, v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%s is negative", v)
	}
	*dst = d
	return nil
}

func setTierOutputs(dst *map[v1alpha1.Tier]string, v string) error {
	if v == "" {
		*dst = nil
		return nil
	}
	pairs, err := labels.ConvertSelectorToLabelsMap(v)
	if err != nil {
		return err
	}
	outputs := map[v1alpha1.Tier]string{}
	for tier, output := range pairs {
		if tier != string(v1alpha1.TierCritical) && tier != string(v1alpha1.TierNonCritical) {
			return fmt.Errorf("%q is not a tier (critical, non-critical)", tier)
		}
		if output == "" {
			return fmt.Errorf("tier %s has no ClusterOutput", tier)
		}
		outputs[v1alpha1.Tier(tier)] = output
	}
	*dst = outputs
	return nil
}

func setSelector(dst **metav1.LabelSelector, v string) error {
	if v == "" {
		*dst = nil
		return nil
	}
	sel, err := metav1.ParseToLabelSelector(v)
	if err != nil {
		return err
	}
	*dst = sel
	return nil
}
