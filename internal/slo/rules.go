package slo

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Service is what the manifesto rules need to know about the service itself.
type Service struct {
	Name, Namespace, Tier string
	// VersionMetric is the metric that exposes the running version (O-8), or empty.
	VersionMetric string
	// WindowInterval is how often the SLO-window rules are evaluated (default 2m). They sum a whole window of
	// recorded samples; evaluating them at every rule evaluation would cost several times more for a value
	// that moves slowly.
	WindowInterval time.Duration
	// AlertLabels are the platform's labels for every alert (ReliabilityPolicy, --alert-labels), and Routing
	// the profile's spec.routing.
	AlertLabels map[string]string
	Routing     *v1alpha1.Routing
}

// DefaultWindowInterval is the evaluation interval of the SLO-window rules: below Prometheus' 5m lookback
// with room for one missed evaluation, so that an instant query finds a sample at any time. Readers of these
// series still query them with last_over_time over ReadLookback.
const DefaultWindowInterval = 2 * time.Minute

// ReadLookback is the range over which readers (the observer, dashboards) look for the latest sample of a
// series evaluated every interval: at least 10m, and two intervals and a minute, so that one missed or slow
// evaluation leaves a sample to read.
func ReadLookback(interval time.Duration) time.Duration {
	if interval <= 0 {
		interval = DefaultWindowInterval
	}
	return max(10*time.Minute, 2*interval+time.Minute)
}

// base is the window of the recorded rates the SLO-window ratio is summed from.
const base = 5 * time.Minute

// Groups returns the rule groups of a service: two per SLO (its rules and alerts, and its SLO-window rules,
// evaluated less often), and one for the manifesto rules. The profile's
// query fragments are parsed here (an error is an *InvalidQueryError); that every expression built around
// them parses too is proven by the tests (TestEveryRenderedExpressionParses and the promtool checks), not
// re-checked on every reconcile.
func Groups(svc Service, objectives []Objective) ([]monitoringv1.RuleGroup, error) {
	var groups []monitoringv1.RuleGroup
	interval := svc.WindowInterval
	if interval <= 0 {
		interval = DefaultWindowInterval
	}
	for _, o := range objectives {
		g, window, err := sloGroups(o, interval, svc.AlertLabels)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g, window)
	}
	manifesto := []monitoringv1.RuleGroup{manifestoGroup(svc, objectives)}
	Decorate(manifesto, svc.AlertLabels, svc.Routing)
	return append(groups, manifesto...), nil
}

// Decorate adds labels to the rules of the groups, each only where the rule does not set it already, in
// this order: the platform's alert labels to every alert (they win over a tenant's routing), then each
// routing's labels to every rule, recorded series included, and its annotations to every alert. The
// operator's own labels and annotations are set by the rules themselves, so nothing here overrides them.
// Decorating twice with the same arguments changes nothing.
func Decorate(groups []monitoringv1.RuleGroup, alertLabels map[string]string, routings ...*v1alpha1.Routing) {
	fill := func(dst *map[string]string, src map[string]string) {
		for k, v := range src {
			if *dst == nil {
				*dst = map[string]string{}
			}
			if _, set := (*dst)[k]; !set {
				(*dst)[k] = v
			}
		}
	}
	for g := range groups {
		for r := range groups[g].Rules {
			rule := &groups[g].Rules[r]
			if rule.Alert != "" {
				fill(&rule.Labels, alertLabels)
			}
			for _, routing := range routings {
				if routing == nil {
					continue
				}
				fill(&rule.Labels, routing.Labels)
				if rule.Alert != "" {
					fill(&rule.Annotations, routing.Annotations)
				}
			}
		}
	}
}

// indicator holds the PromQL of one SLO's 5m error and request rates, each summed to one series per group.
// Every longer window is derived from the recorded 5m rates, so only these read the raw series.
type indicator struct {
	errors, requests string
	p99              string
	// inputField is the field of the input whose absence leaves the SLO without requests.
	inputField string
	// buckets selects every bucket of a classic histogram, to list its bounds.
	buckets string
}

// by is "sum" or "sum by (a, b)": the aggregation that keeps one series per group.
func by(groupBy []string) string {
	if len(groupBy) == 0 {
		return "sum"
	}
	return "sum by (" + strings.Join(groupBy, ", ") + ") "
}

func newIndicator(o Objective) (indicator, error) {
	idx := fmt.Sprintf("spec.slos[%d].indicator", o.Index)
	sum := by(o.GroupBy)
	w := dur(base)
	// A counter of errors often does not exist until the first error: a group with requests and no error
	// series has 0 errors (0 × its requests, which keeps its labels), while a group without requests stays
	// absent, so that SLOInputAbsent can tell.
	orNoErrors := func(errs, requests string) string { return fmt.Sprintf("(%s or 0 * %s)", errs, requests) }
	switch {
	case o.Ratio != nil:
		errs, err := selector(idx+".ratio.errors", o.Ratio.Errors)
		if err != nil {
			return indicator{}, err
		}
		total, err := selector(idx+".ratio.total", o.Ratio.Total)
		if err != nil {
			return indicator{}, err
		}
		errs, total = inNamespace(errs, o.Namespace), inNamespace(total, o.Namespace)
		t := fmt.Sprintf("%s(rate(%s[%s]))", sum, total, w)
		return indicator{errors: orNoErrors(fmt.Sprintf("%s(rate(%s[%s]))", sum, errs, w), t), requests: t, inputField: idx + ".ratio.total"}, nil
	case o.Latency != nil && o.Latency.NativeHistogram:
		h, err := histogramSelector(idx+".latency.histogram", o.Latency.Histogram)
		if err != nil {
			return indicator{}, err
		}
		h = inNamespace(h, o.Namespace)
		rates := fmt.Sprintf("%s(rate(%s[%s]))", sum, h, w)
		t := fmt.Sprintf("histogram_count(%s)", rates)
		return indicator{
			// Without traffic histogram_fraction is NaN, and one NaN would blank every window summed over it:
			// a quiet 5m counts as no errors.
			errors:   fmt.Sprintf("((%s * (1 - histogram_fraction(0, %s, %s))) >= 0 or 0 * %s)", t, o.Latency.Threshold, rates, t),
			requests: t, inputField: idx + ".latency.histogram",
			p99: fmt.Sprintf("histogram_quantile(0.99, %s)", rates),
		}, nil
	case o.Latency != nil:
		h, err := histogramSelector(idx+".latency.histogram", o.Latency.Histogram)
		if err != nil {
			return indicator{}, err
		}
		h = inNamespace(h, o.Namespace)
		bucket := withSuffix(h, "_bucket", leMatcher(o.Latency.Threshold))
		count := withSuffix(h, "_count")
		t := fmt.Sprintf("%s(rate(%s[%s]))", sum, count, w)
		leSum := by(append(append([]string(nil), o.GroupBy...), "le"))
		// No `or`: without a bucket at the threshold the errors are unknown, not 0; SLOThresholdNotABucket
		// fires instead of a 100% SLI.
		return indicator{errors: fmt.Sprintf("(%s - %s(rate(%s[%s])))", t, sum, bucket, w), requests: t, inputField: idx + ".latency.histogram",
			buckets: withSuffix(h, "_bucket"),
			p99:     fmt.Sprintf("histogram_quantile(0.99, %s(rate(%s[%s])))", leSum, withSuffix(h, "_bucket"), w)}, nil
	case o.BoolGauge != nil:
		g, err := selector(idx+".boolGauge.selector", o.BoolGauge.Selector)
		if err != nil {
			return indicator{}, err
		}
		g = inNamespace(g, o.Namespace)
		// Samples per second, good and all: the ratio of the two is the share of bad time.
		seconds := base.Seconds()
		samples := fmt.Sprintf("%s(count_over_time(%s[%s]))", sum, g, w)
		return indicator{
			errors:   fmt.Sprintf("(%s - %s(sum_over_time(%s[%s]))) / %g", samples, sum, g, w, seconds),
			requests: fmt.Sprintf("%s / %g", samples, seconds), inputField: idx + ".boolGauge.selector",
		}, nil
	default:
		p := o.PromQL
		errs, err := promQLExpression(idx+".promQL.errors", p.Errors, o.Namespace, o.GroupBy, base)
		if err != nil {
			return indicator{}, err
		}
		total, err := promQLExpression(idx+".promQL.total", p.Total, o.Namespace, o.GroupBy, base)
		if err != nil {
			return indicator{}, err
		}
		t := fmt.Sprintf("%s(%s)", sum, total)
		return indicator{errors: orNoErrors(fmt.Sprintf("%s(%s)", sum, errs), t), requests: t, inputField: idx + ".promQL.total"}, nil
	}
}

// sloGroups are the group of an SLO's rates, ratios and alerts, and the group of its SLO-window ratio and
// budget remaining, evaluated every windowInterval.
func sloGroups(o Objective, windowInterval time.Duration, alertLabels map[string]string) (monitoringv1.RuleGroup, monitoringv1.RuleGroup, error) {
	ind, err := newIndicator(o)
	if err != nil {
		return monitoringv1.RuleGroup{}, monitoringv1.RuleGroup{}, err
	}
	lbls := map[string]string{"service": o.Service, "slo": o.Name, "tier": o.Tier, "namespace": o.Namespace}
	sel := o.Matchers()
	sum := by(o.GroupBy)
	budget := o.ErrorBudget()
	b := decimal(budget)
	w5 := dur(base)
	errors5m, requests5m := "slo:sli_errors:rate"+w5+sel, "slo:sli_requests:rate"+w5+sel
	// The error ratio over w from the recorded 5m rates: the rates' sums over w, divided. It reads one series
	// per group of one recorded rate per evaluation, not every raw series, and is traffic-weighted like a
	// rate() over w. sum() on both sides here and in the SLO-window ratio: while the tier or the routing
	// labels change, series of both label sets exist, and they must add up rather than fail as duplicates.
	ratioOver := func(w time.Duration) string {
		return fmt.Sprintf("%s(sum_over_time(%s[%s])) / %s(sum_over_time(%s[%s]))", sum, errors5m, dur(w), sum, requests5m, dur(w))
	}
	rules := []monitoringv1.Rule{
		record("slo:sli_errors:rate"+w5, ind.errors, lbls),
		record("slo:sli_requests:rate"+w5, ind.requests, lbls),
		record(ErrorRatioSeries(base), fmt.Sprintf("%s(%s) / %s(%s)", sum, errors5m, sum, requests5m), lbls),
	}
	for _, w := range o.Windows() {
		if w == base || w == o.Window {
			continue // the 5m ratio is above, the SLO window's below
		}
		rules = append(rules, record(ErrorRatioSeries(w), ratioOver(w), lbls))
	}
	W := dur(o.Window)
	window := monitoringv1.RuleGroup{
		Name:     fmt.Sprintf("%s-slo-%s-window", o.Service, o.Name),
		Interval: ptr.To(monitoringv1.Duration(dur(windowInterval))),
		Rules: []monitoringv1.Rule{
			record(ErrorRatioSeries(o.Window), ratioOver(o.Window), lbls),
			record("slo:error_budget_remaining:ratio", fmt.Sprintf("1 - slo:sli_error:ratio_rate%s%s / %s", W, sel, b), lbls),
		},
	}
	rules = append(rules,
		record("slo:objective:ratio", "vector("+decimal(o.Target)+")", lbls),
		record("slo:error_budget:ratio", "vector("+b+")", lbls),
	)
	if o.External != nil {
		rules = append(rules, record("slo:external_objective:ratio", "vector("+decimal(o.External)+")", lbls))
	}
	if ind.p99 != "" {
		rules = append(rules, record("slo:sli_latency:p99_rate5m", ind.p99, lbls))
	}
	for _, t := range o.Tiers {
		rules = append(rules, burnRateAlert(o, t, sel, lbls))
	}
	rules = append(rules, silenceAlerts(o, ind, requests5m, errors5m, lbls)...)
	main := monitoringv1.RuleGroup{Name: fmt.Sprintf("%s-slo-%s", o.Service, o.Name), Rules: rules}
	groups := []monitoringv1.RuleGroup{main, window}
	// A platform alert label named like a groupBy label would give every group's alerts the same value, and
	// Prometheus would refuse the rule for its duplicate label sets: the group's own value stays.
	platform := map[string]string{}
	for k, v := range alertLabels {
		if !slices.Contains(o.GroupBy, k) {
			platform[k] = v
		}
	}
	Decorate(groups, platform, o.Routing, o.ProfileRouting)
	return groups[0], groups[1], nil
}

// inputAbsentFor is how long an SLO's requests may be absent before SLOInputAbsent fires: long enough for
// a fresh deployment to be scraped and to serve its first requests, short enough that an SLO whose
// selectors match nothing is not silent for a day.
const inputAbsentFor = time.Hour

// silenceAlerts are the alerts that keep an SLO from going silent: its requests are absent (the selectors
// match no series, the namespace matcher the operator adds meets metrics without a namespace label, or the
// service is not scraped), its latency threshold is no bucket bound of the histogram, or it has more groups
// than its bound.
func silenceAlerts(o Objective, ind indicator, requests5m, errors5m string, lbls map[string]string) []monitoringv1.Rule {
	withField := func(field string) map[string]string {
		l := copyLabels(lbls)
		l["field"] = field
		return l
	}
	out := []monitoringv1.Rule{
		Alert("SLOInputAbsent", fmt.Sprintf("absent(%s)", requests5m), inputAbsentFor, withField(ind.inputField), "ticket",
			fmt.Sprintf("SLO %s of %s counts no requests: its input series are absent", o.Name, o.Service),
			fmt.Sprintf("%s of SLO %s of %s selects no series in Prometheus, so the SLO has no SLI, no error budget and no burn-rate alert. "+
				"Selectors without a namespace matcher are limited to namespace=%q: if the metric carries no namespace label, write namespace=\"\" in the selector. "+
				"Check the selector against Prometheus, and that the service is scraped.", ind.inputField, o.Name, o.Service, o.Namespace)),
	}
	if o.Latency != nil && !o.Latency.NativeHistogram {
		field := fmt.Sprintf("spec.slos[%d].indicator.latency.threshold", o.Index)
		out = append(out, Alert("SLOThresholdNotABucket", fmt.Sprintf("count(%s) unless on () count(%s)", requests5m, errors5m), 15*time.Minute, withField(field), "ticket",
			fmt.Sprintf("The latency threshold of SLO %s of %s is not a bucket bound of its histogram", o.Name, o.Service),
			fmt.Sprintf("The histogram of SLO %s of %s has requests but no bucket with le=%s, so its slow requests cannot be counted and the SLO would read 100%%. "+
				"List the bounds with count by (le) (%s) and set %s to one of them.",
				o.Name, o.Service, o.Latency.Threshold, ind.buckets, field)))
	}
	if len(o.GroupBy) > 0 {
		out = append(out, Alert("SLOGroupsAboveBound", fmt.Sprintf("count(%s) > %d", requests5m, o.MaxGroups), 15*time.Minute, lbls, "ticket",
			fmt.Sprintf("SLO %s of %s has more than %d groups", o.Name, o.Service, o.MaxGroups),
			fmt.Sprintf("SLO %s of %s is grouped by %s into {{ $value }} groups, more than its bound spec.slos[%d].maxGroups of %d: every group costs its own series and alerts. "+
				"Group by a label with fewer values, or raise maxGroups (at most 1000).", o.Name, o.Service, strings.Join(o.GroupBy, ", "), o.Index, o.MaxGroups)))
	}
	return out
}

func burnRateAlert(o Objective, t Tier, sel string, lbls map[string]string) monitoringv1.Rule {
	b := decimal(o.ErrorBudget())
	threshold := decimal(t.BurnRate)
	long, short := dur(t.Long), dur(t.Short)
	expr := fmt.Sprintf("slo:sli_error:ratio_rate%s%s / %s > %s and slo:sli_error:ratio_rate%s%s / %s > %s",
		long, sel, b, threshold, short, sel, b, threshold)
	spent := new(big.Rat).Mul(t.BurnRate, big.NewRat(int64(t.Long), int64(o.Window)))
	labels := map[string]string{
		"severity": t.Severity, "burnrate_tier": t.Name, "long_window": long, "short_window": short,
	}
	for k, v := range lbls {
		labels[k] = v
	}
	annotations := map[string]string{
		"summary": fmt.Sprintf("%s is burning the error budget of SLO %s too fast", o.Service, o.Name),
		"description": fmt.Sprintf("SLO %s of %s (objective %s%%, %s window) spends its error budget at {{ $value | printf \"%%.1f\" }}× "+
			"the sustainable rate over %s, confirmed over %s (threshold %s×). This tier fires once %s%% of the %s budget is spent at that rate.",
			o.Name, o.Service, decimal(new(big.Rat).Mul(o.Target, big.NewRat(100, 1))), dur(o.Window), long, short, threshold,
			percentOf(spent), dur(o.Window)),
	}
	if o.RunbookURL != "" {
		annotations["runbook_url"] = o.RunbookURL
	}
	return monitoringv1.Rule{Alert: "ErrorBudgetBurn", Expr: intstr.FromString(expr), Labels: labels, Annotations: annotations}
}

func manifestoGroup(svc Service, objectives []Objective) monitoringv1.RuleGroup {
	lbls := map[string]string{"service": svc.Name, "tier": svc.Tier, "namespace": svc.Namespace}
	sel := ServiceMatchers(svc.Name, svc.Namespace)
	rules := []monitoringv1.Rule{
		record("service:up:ratio", fmt.Sprintf("avg(up%s)", sel), lbls),
		Alert("ServiceTargetDown", fmt.Sprintf("up%s == 0", sel), 5*time.Minute, lbls, "ticket",
			fmt.Sprintf("A scrape target of %s is down", svc.Name),
			"Prometheus cannot scrape {{ $labels.instance }} of "+svc.Name+" on /metrics port 8067 (O-6, O-7)."),
		Alert("ServiceNotScraped", notScraped(sel, objectives), 10*time.Minute, lbls, "ticket",
			fmt.Sprintf("Prometheus scrapes no target of %s", svc.Name),
			"No target of "+svc.Name+" is scraped through its ServiceMonitor, and none of its SLOs' input series exist: check that the ServiceMonitor selects the service's Services and that Prometheus selects the ServiceMonitor."),
	}
	if svc.VersionMetric != "" {
		rules = append(rules, Alert("ServiceVersionMetricAbsent", fmt.Sprintf("absent(%s%s)", svc.VersionMetric, sel), 15*time.Minute, lbls, "ticket",
			fmt.Sprintf("%s does not expose its version", svc.Name),
			"The version metric "+svc.VersionMetric+" of "+svc.Name+" is absent (O-8)."))
	}
	for _, o := range objectives {
		if o.RunbookURL != "" {
			for i := range rules {
				if rules[i].Alert != "" {
					rules[i].Annotations["runbook_url"] = o.RunbookURL
				}
			}
			break
		}
	}
	return monitoringv1.RuleGroup{Name: svc.Name + "-manifesto", Rules: rules}
}

// notScraped is true when the service has no up series through the ServiceMonitor's relabeling (which adds
// the service label) and none of its SLOs sees requests: a service scraped some other way (a PodMonitor, a
// static job) whose SLO selectors find its series is scraped, and must not raise a ticket from the first
// evaluation.
func notScraped(sel string, objectives []Objective) string {
	expr := fmt.Sprintf("absent(up%s)", sel)
	if len(objectives) > 0 {
		expr += fmt.Sprintf(" unless on () slo:sli_requests:rate%s%s", dur(base), sel)
	}
	return expr
}

func record(name, expr string, lbls map[string]string) monitoringv1.Rule {
	return monitoringv1.Rule{Record: name, Expr: intstr.FromString(expr), Labels: copyLabels(lbls)}
}

// Alert is an alerting rule with the service's labels, a severity, a summary and a description; it must hold
// for forDuration (0: fires at once).
func Alert(name, expr string, forDuration time.Duration, lbls map[string]string, severity, summary, description string) monitoringv1.Rule {
	l := copyLabels(lbls)
	l["severity"] = severity
	r := monitoringv1.Rule{Alert: name, Expr: intstr.FromString(expr), Labels: l,
		Annotations: map[string]string{"summary": summary, "description": description}}
	if forDuration > 0 {
		r.For = ptr.To(monitoringv1.Duration(dur(forDuration)))
	}
	return r
}

func copyLabels(in map[string]string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	return out
}

// matchers prints {a="1",b="2"} in key order.
func matchers(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, m[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Windows are the distinct windows an error ratio is recorded over, shortest first: the 5m base, every
// tier's windows (page and ticket tiers share them), 1h (status and dashboards report the 1h burn rate
// whatever the tiers are) and the SLO window.
func (o Objective) Windows() []time.Duration {
	seen := map[time.Duration]bool{}
	var out []time.Duration
	add := func(w time.Duration) {
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	add(base)
	add(time.Hour)
	add(o.Window)
	for _, t := range o.Tiers {
		add(t.Short)
		add(t.Long)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ErrorRatioSeries is the name of the recorded error ratio over w.
func ErrorRatioSeries(w time.Duration) string { return "slo:sli_error:ratio_rate" + dur(w) }

// WindowName writes a window as the series names do: "5m", "1h24m", "30d".
func WindowName(w time.Duration) string { return dur(w) }

// Matchers select the SLO's recorded series: {namespace="…",service="…",slo="…"}.
func (o Objective) Matchers() string {
	return matchers(map[string]string{"service": o.Service, "slo": o.Name, "namespace": o.Namespace})
}

// ServiceMatchers select a service's own series, such as up: {namespace="…",service="…"}.
func ServiceMatchers(service, namespace string) string {
	return matchers(map[string]string{"service": service, "namespace": namespace})
}

// percentOf prints a fraction as a percentage with at most two decimals: 1/72 as "1.39".
func percentOf(r *big.Rat) string {
	s := new(big.Rat).Mul(r, big.NewRat(100, 1)).FloatString(2)
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// dur writes whole days as days ("7d", not Prometheus' "1w"), as people write SLO windows.
func dur(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return model.Duration(d).String()
}
