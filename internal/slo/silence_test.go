package slo_test

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/slo"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// These scenarios run the rendered rules in the real promtool against input series written the promtool
// way ("0+10x120": from 0, 10 more every minute, 120 times). Each expectation names, at a time, the alerts
// that must be firing, by alert name and a few labels, and no others of those names.

// promtoolCase is one promtool test: its input series and what must fire when.
type promtoolCase struct {
	name   string
	series map[string]string // series → values
	// firing maps an evaluation time to the alerts firing then, each "alertname{label=value,...}" with the
	// labels of watch[alertname] in sorted order.
	firing map[string][]string
	// values maps an evaluation time to PromQL expressions and the one sample value each must return (with
	// any labels), or "none" for no sample.
	values map[string]map[string]string
	// watch overrides the labels some alerts are told apart by (a grouped SLO's group label).
	watch map[string][]string
}

// watch are the alerts the cases check, and the labels each is told apart by.
var watch = map[string][]string{
	"ErrorBudgetBurn":        {"burnrate_tier"},
	"SLOInputAbsent":         {"field"},
	"SLOThresholdNotABucket": {"field"},
	"SLOGroupsAboveBound":    {"slo"},
	"ServiceNotScraped":      {"service"},
}

// runPromtool renders the profile's rule groups and runs the cases against them.
func runPromtool(t *testing.T, rp *v1alpha1.ReliabilityProfile, cases []promtoolCase) {
	t.Helper()
	objectives, err := slo.Objectives(rp)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.Groups(slo.Service{Name: rp.Spec.Service, Namespace: rp.Namespace, Tier: string(rp.Spec.Tier), Routing: rp.Spec.Routing}, objectives)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	var tests []map[string]any
	for _, c := range cases {
		tests = append(tests, c.promtoolTest())
	}
	testenv.WriteYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m", "tests": tests})
	testenv.PromtoolTestRules(t, filepath.Join(dir, "tests.yaml"))
}

func (c promtoolCase) promtoolTest() map[string]any {
	var input []map[string]any
	for _, s := range sortedKeys(c.series) {
		input = append(input, map[string]any{"series": s, "values": c.series[s]})
	}
	var exprs []map[string]any
	for _, at := range sortedKeys(c.firing) {
		byAlert := map[string][]string{}
		for _, f := range c.firing[at] {
			name, lbls, _ := strings.Cut(f, "{")
			var quoted []string
			for _, kv := range strings.Split(strings.TrimSuffix(lbls, "}"), ",") {
				k, v, _ := strings.Cut(kv, "=")
				quoted = append(quoted, fmt.Sprintf("%s=%q", k, v))
			}
			byAlert[name] = append(byAlert[name], "{"+strings.Join(quoted, ",")+"}")
		}
		for _, name := range sortedKeys(watch) {
			var samples []map[string]any
			for _, l := range byAlert[name] {
				samples = append(samples, map[string]any{"labels": l, "value": 1})
			}
			labels := watch[name]
			if w, ok := c.watch[name]; ok {
				labels = w
			}
			exprs = append(exprs, map[string]any{
				"expr":        fmt.Sprintf(`count by (%s) (ALERTS{alertname=%q,alertstate="firing"})`, strings.Join(labels, ", "), name),
				"eval_time":   at,
				"exp_samples": samples,
			})
		}
	}
	for _, at := range sortedKeys(c.values) {
		for _, expr := range sortedKeys(c.values[at]) {
			var samples []map[string]any
			if v := c.values[at][expr]; v != "none" {
				labels, value, _ := strings.Cut(v, " ")
				f, err := strconv.ParseFloat(value, 64)
				if err != nil {
					panic(fmt.Sprintf("case %s: value %q of %s", c.name, v, expr))
				}
				samples = append(samples, map[string]any{"labels": labels, "value": f})
			}
			exprs = append(exprs, map[string]any{"expr": expr, "eval_time": at, "exp_samples": samples})
		}
	}
	return map[string]any{"name": c.name, "interval": "1m", "input_series": input, "promql_expr_test": exprs}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// profile is the service api in shop with one SLO.
func profile(s v1alpha1.SLO) *v1alpha1.ReliabilityProfile {
	if s.Objective == "" {
		s.Objective = "99.9"
	}
	if s.Window == "" {
		s.Window = "30d"
	}
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec:       v1alpha1.ReliabilityProfileSpec{Service: "api", Tier: v1alpha1.TierCritical, SLOs: []v1alpha1.SLO{s}},
	}
}

var allBurnTiers = []string{
	"ErrorBudgetBurn{burnrate_tier=page-fast}", "ErrorBudgetBurn{burnrate_tier=page-slow}",
	"ErrorBudgetBurn{burnrate_tier=ticket-fast}", "ErrorBudgetBurn{burnrate_tier=ticket-slow}",
}

func availability(errors, total string) v1alpha1.SLO {
	return v1alpha1.SLO{Name: "availability", Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: errors, Total: total}}}
}

// TestAnSLOWhoseInputsAreAbsentAlerts: selectors that match nothing, and metrics without the namespace label
// the operator adds, leave an SLO without requests. SLOInputAbsent fires after an hour (a fresh deployment
// has that long to be scraped) and names the field; ServiceNotScraped fires too when nothing of the service
// is seen. The escape for metrics without a namespace label, namespace="", finds them.
func TestAnSLOWhoseInputsAreAbsentAlerts(t *testing.T) {
	t.Run("selectors that match nothing", func(t *testing.T) {
		runPromtool(t, profile(availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`)), []promtoolCase{{
			name: "the service's metrics are under another job",
			series: map[string]string{
				`http_requests_total{job="checkout",namespace="shop",code="500"}`: "0+600x120",
			},
			firing: map[string][]string{
				"55m": {"ServiceNotScraped{service=api}"},
				"65m": {"ServiceNotScraped{service=api}", "SLOInputAbsent{field=spec.slos[0].indicator.ratio.total}"},
			},
		}})
	})
	t.Run("metrics without a namespace label", func(t *testing.T) {
		series := map[string]string{
			`http_requests_total{job="api",code="200"}`: "0+600x120",
			`http_requests_total{job="api",code="500"}`: "0+600x120",
		}
		runPromtool(t, profile(availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`)), []promtoolCase{{
			name: "the operator's namespace matcher finds nothing", series: series,
			firing: map[string][]string{"65m": {"ServiceNotScraped{service=api}", "SLOInputAbsent{field=spec.slos[0].indicator.ratio.total}"}},
		}})
		runPromtool(t, profile(availability(`http_requests_total{job="api",namespace="",code=~"5.."}`, `http_requests_total{job="api",namespace=""}`)), []promtoolCase{{
			name: `namespace="" selects them`, series: series,
			firing: map[string][]string{"65m": allBurnTiers},
		}})
	})
}

// TestAServiceScrapedWithoutTheServiceLabelIsNotReportedUnscraped: ServiceNotScraped used to read only
// up{service=...}, which only the operator's ServiceMonitor relabeling gives; scraped any other way, a
// healthy service raised a ticket. Its SLO's requests now count as scraped.
func TestAServiceScrapedWithoutTheServiceLabelIsNotReportedUnscraped(t *testing.T) {
	runPromtool(t, profile(availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`)), []promtoolCase{{
		name: "scraped by a PodMonitor",
		series: map[string]string{
			`up{job="api",namespace="shop",pod="api-0"}`:                             "1x120",
			`http_requests_total{job="api",namespace="shop",code="200",pod="api-0"}`: "0+600x120",
		},
		firing: map[string][]string{"30m": nil, "2h": nil},
	}})
}

// TestALatencyThresholdThatIsNoBucketBoundAlerts: a threshold of 0.25 against buckets 0.1, 0.3 and 1 selects
// no bucket. With every request taking 1s the SLO used to read no errors and stay silent; now
// SLOThresholdNotABucket fires and no burn-rate alert pretends to know. At 0.3 the same traffic pages.
func TestALatencyThresholdThatIsNoBucketBoundAlerts(t *testing.T) {
	latency := func(threshold string) *v1alpha1.ReliabilityProfile {
		return profile(v1alpha1.SLO{Name: "latency", Objective: "99", Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{
			Histogram: `http_request_duration_seconds{job="api"}`, Threshold: threshold}}})
	}
	// Every request takes between 0.3 and 1 seconds.
	series := map[string]string{
		`http_request_duration_seconds_bucket{job="api",namespace="shop",le="0.1"}`:  "0x120",
		`http_request_duration_seconds_bucket{job="api",namespace="shop",le="0.3"}`:  "0x120",
		`http_request_duration_seconds_bucket{job="api",namespace="shop",le="1"}`:    "0+600x120",
		`http_request_duration_seconds_bucket{job="api",namespace="shop",le="+Inf"}`: "0+600x120",
		`http_request_duration_seconds_count{job="api",namespace="shop"}`:            "0+600x120",
	}
	runPromtool(t, latency("0.25"), []promtoolCase{{
		name: "0.25 is no bucket bound", series: series,
		firing: map[string][]string{
			"10m": nil,
			"20m": {"SLOThresholdNotABucket{field=spec.slos[0].indicator.latency.threshold}"},
		},
		values: map[string]map[string]string{"20m": {`slo:sli_error:ratio_rate5m`: "none"}},
	}})
	runPromtool(t, latency("0.3"), []promtoolCase{{
		name: "0.3 is one", series: series,
		firing: map[string][]string{"20m": {"ErrorBudgetBurn{burnrate_tier=page-fast}", "ErrorBudgetBurn{burnrate_tier=page-slow}",
			"ErrorBudgetBurn{burnrate_tier=ticket-fast}", "ErrorBudgetBurn{burnrate_tier=ticket-slow}"}},
	}})
}

// TestCounterResetsAndSilenceKeepTheVerdicts: the alert windows are now sums of the recorded 5m rates. A
// restart resets the counters; rate() over 5m takes the reset, and so every window does: an outage across a
// restart still pages, a healthy service that restarts does not. A service without traffic (its counters
// flat) has no error ratio: nothing fires, not even SLOInputAbsent, since its series exist.
func TestCounterResetsAndSilenceKeepTheVerdicts(t *testing.T) {
	rp := profile(availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`))
	up := map[string]string{`up{job="api",namespace="shop",service="api"}`: "1x300"}
	with := func(m map[string]string) map[string]string {
		for k, v := range up {
			m[k] = v
		}
		return m
	}
	runPromtool(t, rp, []promtoolCase{
		{
			name: "a restart during an outage",
			// All requests fail from minute 60; the process restarts at minute 66, and its counters start at 0.
			series: with(map[string]string{
				`http_requests_total{job="api",namespace="shop",code="200"}`: "0+600x60 36000x5 0x60",
				`http_requests_total{job="api",namespace="shop",code="500"}`: "0x60 600+600x5 0+600x60",
			}),
			firing: map[string][]string{"59m": nil, "75m": allBurnTiers},
		},
		{
			name: "a healthy restart",
			series: with(map[string]string{
				`http_requests_total{job="api",namespace="shop",code="200"}`: "0+600x90 0+600x90",
			}),
			firing: map[string][]string{"95m": nil, "3h": nil},
		},
		{
			name: "no traffic for hours",
			series: with(map[string]string{
				`http_requests_total{job="api",namespace="shop",code="200"}`: "100x300",
				`http_requests_total{job="api",namespace="shop",code="500"}`: "3x300",
			}),
			firing: map[string][]string{"2h": nil, "5h": nil},
			values: map[string]map[string]string{"2h": {
				`slo:sli_requests:rate5m{slo="availability"}`: `slo:sli_requests:rate5m{namespace="shop",service="api",slo="availability",tier="critical"} 0`,
			}},
		},
	})
}

// TestAGroupedSLOAlertsPerGroup: with groupBy [route], every series and alert carries the route, a failing
// route pages alone, and more routes than maxGroups raise SLOGroupsAboveBound.
func TestAGroupedSLOAlertsPerGroup(t *testing.T) {
	s := availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`)
	s.GroupBy, s.MaxGroups = []string{"route"}, ptr.To[int32](2)
	rp := profile(s)
	series := map[string]string{
		`up{job="api",namespace="shop",service="api"}`:                              "1x120",
		`http_requests_total{job="api",namespace="shop",route="/cart",code="200"}`:  "0+600x120",
		`http_requests_total{job="api",namespace="shop",route="/pay",code="200"}`:   "0+600x60 36000x60",
		`http_requests_total{job="api",namespace="shop",route="/pay",code="500"}`:   "0x60 0+600x60",
		`http_requests_total{job="api",namespace="shop",route="/admin",code="200"}`: "_x90 0+1x30",
	}
	var payPages []string
	for _, f := range allBurnTiers {
		payPages = append(payPages, strings.TrimSuffix(f, "}")+",route=/pay}")
	}
	runPromtool(t, rp, []promtoolCase{{
		name: "one route of two fails, a third appears later", series: series,
		watch: map[string][]string{"ErrorBudgetBurn": {"burnrate_tier", "route"}},
		firing: map[string][]string{
			"55m":  nil,
			"75m":  payPages,
			"110m": append(append([]string(nil), payPages...), "SLOGroupsAboveBound{slo=availability}"),
		},
		values: map[string]map[string]string{"75m": {
			`count(slo:sli_requests:rate5m{slo="availability"})`:                              "{} 2",
			`slo:sli_error:ratio_rate5m{route="/cart"}`:                                       `slo:sli_error:ratio_rate5m{namespace="shop",route="/cart",service="api",slo="availability",tier="critical"} 0`,
			`count(slo:error_budget_remaining:ratio{slo="availability",route=~"/cart|/pay"})`: "{} 2",
		}},
	}})
}

// TestTheOtherIndicatorsAlertAsTheRatioDoes: a boolGauge (probe_success) and a promQL ratio page on a total
// outage and stay quiet when healthy; the promQL indicator, summed by the groupBy labels, yields one series
// per group whatever its expression sums by itself.
func TestTheOtherIndicatorsAlertAsTheRatioDoes(t *testing.T) {
	probe := profile(v1alpha1.SLO{Name: "probe", Indicator: v1alpha1.Indicator{BoolGauge: &v1alpha1.BoolGaugeIndicator{
		Selector: `probe_success{job="blackbox"}`}}})
	runPromtool(t, probe, []promtoolCase{
		{
			name:   "the probe fails from minute 60",
			series: map[string]string{`probe_success{job="blackbox",namespace="shop",instance="https://shop.example.com"}`: "1x60 0x30"},
			firing: map[string][]string{"59m": nil, "75m": allBurnTiers},
			values: map[string]map[string]string{"30m": {`slo:sli_error:ratio_rate5m{slo="probe"}`: `slo:sli_error:ratio_rate5m{namespace="shop",service="api",slo="probe",tier="critical"} 0`}},
		},
		{
			name:   "the probe never fails",
			series: map[string]string{`probe_success{job="blackbox",namespace="shop",instance="https://shop.example.com"}`: "1x300"},
			firing: map[string][]string{"4h": nil},
		},
	})

	grpc := v1alpha1.SLO{Name: "grpc", GroupBy: []string{"grpc_method"}, Indicator: v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{
		Errors: `sum by (grpc_method) (rate(grpc_server_handled_total{grpc_code!~"OK|NotFound|InvalidArgument"}[$window]))`,
		Total:  `rate(grpc_server_handled_total[$window])`,
	}}}
	var getPages []string
	for _, f := range allBurnTiers {
		getPages = append(getPages, strings.TrimSuffix(f, "}")+",grpc_method=Get}")
	}
	runPromtool(t, profile(grpc), []promtoolCase{{
		name:  "Get fails from minute 60, List answers NotFound",
		watch: map[string][]string{"ErrorBudgetBurn": {"burnrate_tier", "grpc_method"}},
		series: map[string]string{
			`grpc_server_handled_total{namespace="shop",instance="a",grpc_method="Get",grpc_code="OK"}`:        "0+300x120",
			`grpc_server_handled_total{namespace="shop",instance="b",grpc_method="Get",grpc_code="OK"}`:        "0+300x60 18000x60",
			`grpc_server_handled_total{namespace="shop",instance="b",grpc_method="Get",grpc_code="Internal"}`:  "0x60 0+300x60",
			`grpc_server_handled_total{namespace="shop",instance="a",grpc_method="List",grpc_code="NotFound"}`: "0+300x120",
			// Another namespace's failures are not this SLO's.
			`grpc_server_handled_total{namespace="other",instance="c",grpc_method="List",grpc_code="Internal"}`: "0+300x120",
		},
		firing: map[string][]string{"55m": nil, "75m": getPages},
		values: map[string]map[string]string{"30m": {
			`count(slo:sli_requests:rate5m{slo="grpc"})`:     "{} 2",
			`slo:sli_error:ratio_rate5m{grpc_method="List"}`: `slo:sli_error:ratio_rate5m{grpc_method="List",namespace="shop",service="api",slo="grpc",tier="critical"} 0`,
		}},
	}})
}

// TestRoutingLabelsReachEveryAlertAndSeries: spec.routing and spec.slos[].routing label the SLO's recorded
// series and alerts and annotate its alerts; the SLO's own value wins on the same key, and the profile's
// reaches the manifesto alerts.
func TestRoutingLabelsReachEveryAlertAndSeries(t *testing.T) {
	s := availability(`http_requests_total{job="api",code=~"5.."}`, `http_requests_total{job="api"}`)
	s.Routing = &v1alpha1.Routing{Labels: map[string]string{"team": "checkout-payments"}, Annotations: map[string]string{"slack_channel": "#payments"}}
	rp := profile(s)
	rp.Spec.Routing = &v1alpha1.Routing{Labels: map[string]string{"team": "checkout", "cost_center": "cc-42"}, Annotations: map[string]string{"dashboard_url": "https://grafana.example.com/d/api"}}
	objectives, err := slo.Objectives(rp)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop", Tier: "critical", Routing: rp.Spec.Routing,
		AlertLabels: map[string]string{"cost_center": "platform", "cluster": "eu-1"}}, objectives)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			want := map[string]string{"team": "checkout-payments", "cost_center": "cc-42"}
			if g.Name == "api-manifesto" {
				want["team"] = "checkout"
			}
			if r.Alert != "" {
				want["cluster"], want["cost_center"] = "eu-1", "platform" // the platform's labels win on alerts
			}
			for k, v := range want {
				if r.Labels[k] != v {
					t.Errorf("%s in %s: label %s = %q, want %q", name, g.Name, k, r.Labels[k], v)
				}
			}
			if r.Record != "" && r.Labels["cluster"] != "" {
				t.Errorf("%s: a recorded series carries the platform's alert label cluster", name)
			}
			if r.Alert != "" {
				if r.Annotations["dashboard_url"] == "" {
					t.Errorf("%s in %s lacks the profile's annotation", name, g.Name)
				}
				if inSLO := g.Name != "api-manifesto"; inSLO != (r.Annotations["slack_channel"] == "#payments") {
					t.Errorf("%s in %s: slack_channel = %q", name, g.Name, r.Annotations["slack_channel"])
				}
			}
		}
	}
	// And the labels reach Prometheus: the burn-rate alert of an outage carries them.
	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": groups})
	testenv.WriteYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval": "1m",
			"input_series": []map[string]any{
				{"series": `http_requests_total{job="api",namespace="shop",code="500"}`, "values": "0+600x30"},
			},
			"alert_rule_test": []map[string]any{{
				"eval_time": "20m", "alertname": "ErrorBudgetBurn",
				"exp_alerts": firingBurnAlerts(t, groups),
			}},
		}},
	})
	testenv.PromtoolTestRules(t, filepath.Join(dir, "tests.yaml"))
}

// firingBurnAlerts are the four firing ErrorBudgetBurn alerts as promtool's alert_rule_test wants them: every
// label and annotation as rendered (the labels checked above), with the description's value template
// expanded the way Prometheus does at 100% errors (a burn rate of 1000).
func firingBurnAlerts(t *testing.T, groups []monitoringv1.RuleGroup) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert != "ErrorBudgetBurn" {
				continue
			}
			annotations := map[string]string{}
			for k, v := range r.Annotations {
				annotations[k] = strings.ReplaceAll(v, `{{ $value | printf "%.1f" }}`, "1000.0")
			}
			out = append(out, map[string]any{"exp_labels": r.Labels, "exp_annotations": annotations})
		}
	}
	if len(out) != 4 {
		t.Fatalf("%d burn-rate alerts, want 4", len(out))
	}
	return out
}

// TestTheWindowGroupLeavesASampleForEveryReader: the SLO-window group runs below Prometheus' 5m lookback with
// room for a missed evaluation, and the readers' lookback covers two intervals and more.
func TestTheWindowGroupLeavesASampleForEveryReader(t *testing.T) {
	if 2*slo.DefaultWindowInterval >= 5*60e9 {
		t.Errorf("the default window interval %v leaves no sample in a 5m lookback after one missed evaluation", slo.DefaultWindowInterval)
	}
	for _, interval := range []string{"1m", "2m", "5m", "10m", "1h"} {
		d, _ := time.ParseDuration(interval)
		if l := slo.ReadLookback(d); l < 2*d || l < 10*60e9 {
			t.Errorf("ReadLookback(%s) = %v, want at least two intervals and 10m", interval, l)
		}
	}
	groups := rulesOf(t, availabilityProfile(), "")
	for _, g := range groups {
		if strings.HasSuffix(g.Name, "-window") && (g.Interval == nil || *g.Interval != "2m") {
			t.Errorf("group %s is evaluated every %v, want 2m", g.Name, g.Interval)
		}
	}
}

// TestAKubernetesConditionAndAGroupedLatencySLOAlert: a kube-state-metrics condition is a boolGauge like any
// other, and a classic-histogram latency SLO grouped by route keeps the route through its bucket arithmetic.
func TestAKubernetesConditionAndAGroupedLatencySLOAlert(t *testing.T) {
	available := profile(v1alpha1.SLO{Name: "available", Indicator: v1alpha1.Indicator{BoolGauge: &v1alpha1.BoolGaugeIndicator{
		Selector: `kube_deployment_status_condition{deployment="api",condition="Available",status="true"}`}}})
	runPromtool(t, available, []promtoolCase{{
		name: "the Deployment is unavailable from minute 60",
		series: map[string]string{
			`kube_deployment_status_condition{job="kube-state-metrics",namespace="shop",deployment="api",condition="Available",status="true"}`: "1x60 0x30",
			// Another team's Deployment of the same name is not this SLO's.
			`kube_deployment_status_condition{job="kube-state-metrics",namespace="other",deployment="api",condition="Available",status="true"}`: "0x90",
		},
		firing: map[string][]string{"59m": nil, "75m": allBurnTiers},
	}})

	s := v1alpha1.SLO{Name: "latency", Objective: "99", GroupBy: []string{"route"}, Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{
		Histogram: `http_request_duration_seconds{job="api"}`, Threshold: "0.3"}}}
	series := map[string]string{}
	for _, route := range []string{"/cart", "/pay"} {
		// /cart answers within 0.1s throughout; from minute 60 every /pay request takes between 0.3 and 1s.
		fast := map[string]string{"/cart": "0+600x120", "/pay": "0+600x60 36000x60"}[route]
		for _, b := range []struct{ le, values string }{{"0.1", fast}, {"0.3", fast}, {"1", "0+600x120"}, {"+Inf", "0+600x120"}} {
			series[fmt.Sprintf(`http_request_duration_seconds_bucket{job="api",namespace="shop",route=%q,le=%q}`, route, b.le)] = b.values
		}
		series[fmt.Sprintf(`http_request_duration_seconds_count{job="api",namespace="shop",route=%q}`, route)] = "0+600x120"
	}
	var payPages []string
	for _, f := range allBurnTiers {
		payPages = append(payPages, strings.TrimSuffix(f, "}")+",route=/pay}")
	}
	runPromtool(t, profile(s), []promtoolCase{{
		name: "/pay turns slow", series: series,
		watch:  map[string][]string{"ErrorBudgetBurn": {"burnrate_tier", "route"}},
		firing: map[string][]string{"55m": nil, "75m": payPages},
		values: map[string]map[string]string{"75m": {
			`count(slo:sli_latency:p99_rate5m)`: "{} 2",
		}},
	}})
}

func TestTheLookbackCoversTwoEvaluationsOfTheWindowGroup(t *testing.T) {
	for interval, want := range map[time.Duration]time.Duration{
		0: slo.ReadLookback(slo.DefaultWindowInterval), time.Minute: 10 * time.Minute, 2 * time.Minute: 10 * time.Minute,
		5 * time.Minute: 11 * time.Minute, 10 * time.Minute: 21 * time.Minute,
	} {
		if got := slo.ReadLookback(interval); got != want {
			t.Errorf("ReadLookback(%s) = %s, want %s", interval, got, want)
		}
	}
}
