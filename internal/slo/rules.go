package slo

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// Service is what the manifesto rules need to know about the service itself.
type Service struct {
	Name, Namespace, Tier string
	// VersionMetric is the metric that exposes the running version (O-8), or empty.
	VersionMetric string
	// WindowInterval is how often the SLO-window rules are evaluated (default 5m). They sum a whole window of
	// recorded samples; evaluating them at every rule evaluation would cost ten times more for a value that
	// moves slowly.
	WindowInterval time.Duration
}

// DefaultWindowInterval is the evaluation interval of the SLO-window rules.
const DefaultWindowInterval = 5 * time.Minute

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
		g, window, err := sloGroups(o, interval)
		if err != nil {
			return nil, err
		}
		groups = append(groups, g, window)
	}
	return append(groups, manifestoGroup(svc, objectives)), nil
}

// indicator holds the PromQL of one SLO's error and request rates over a window.
type indicator struct {
	errors, requests func(w string) string // per-second rates over w, aggregated to one series
	errorRatio       func(w string) string
	p99              string
}

func newIndicator(o Objective) (indicator, error) {
	idx := fmt.Sprintf("spec.slos[%d].indicator", o.Index)
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
		// A counter of errors often does not exist until the first error: count it as zero.
		e := func(w string) string { return fmt.Sprintf("(sum(rate(%s[%s])) or vector(0))", errs, w) }
		t := func(w string) string { return fmt.Sprintf("sum(rate(%s[%s]))", total, w) }
		return indicator{errors: e, requests: t, errorRatio: func(w string) string { return e(w) + " / " + t(w) }}, nil
	case o.Latency != nil && o.Latency.NativeHistogram:
		h, err := histogramSelector(idx+".latency.histogram", o.Latency.Histogram)
		if err != nil {
			return indicator{}, err
		}
		h = inNamespace(h, o.Namespace)
		th := o.Latency.Threshold
		slow := func(w string) string {
			return fmt.Sprintf("(1 - histogram_fraction(0, %s, sum(rate(%s[%s]))))", th, h, w)
		}
		t := func(w string) string { return fmt.Sprintf("histogram_count(sum(rate(%s[%s])))", h, w) }
		return indicator{
			// Without traffic histogram_fraction is NaN, and one NaN would blank the SLO-window sum for the
			// whole window: a quiet window counts as no errors.
			errors:     func(w string) string { return "((" + t(w) + " * " + slow(w) + ") >= 0 or vector(0))" },
			requests:   t,
			errorRatio: slow,
			p99:        fmt.Sprintf("histogram_quantile(0.99, sum(rate(%s[5m])))", h),
		}, nil
	default:
		h, err := histogramSelector(idx+".latency.histogram", o.Latency.Histogram)
		if err != nil {
			return indicator{}, err
		}
		h = inNamespace(h, o.Namespace)
		bucket := withSuffix(h, "_bucket", leMatcher(o.Latency.Threshold))
		count := withSuffix(h, "_count")
		e := func(w string) string {
			return fmt.Sprintf("(sum(rate(%s[%s])) - sum(rate(%s[%s])))", count, w, bucket, w)
		}
		t := func(w string) string { return fmt.Sprintf("sum(rate(%s[%s]))", count, w) }
		return indicator{errors: e, requests: t, errorRatio: func(w string) string { return e(w) + " / " + t(w) },
			p99: fmt.Sprintf("histogram_quantile(0.99, sum by (le) (rate(%s[5m])))", withSuffix(h, "_bucket"))}, nil
	}
}

// sloGroups are the group of an SLO's rates, ratios and alerts, and the group of its SLO-window ratio and
// budget remaining, evaluated every windowInterval.
func sloGroups(o Objective, windowInterval time.Duration) (monitoringv1.RuleGroup, monitoringv1.RuleGroup, error) {
	ind, err := newIndicator(o)
	if err != nil {
		return monitoringv1.RuleGroup{}, monitoringv1.RuleGroup{}, err
	}
	lbls := map[string]string{"service": o.Service, "slo": o.Name, "tier": o.Tier, "namespace": o.Namespace}
	sel := o.Matchers()
	budget := o.ErrorBudget()
	b := decimal(budget)
	w5 := dur(base)

	rules := []monitoringv1.Rule{
		record("slo:sli_errors:rate"+w5, ind.errors(w5), lbls),
		record("slo:sli_requests:rate"+w5, ind.requests(w5), lbls),
		// sum() on both sides here and in the SLO-window ratio: while the tier changes, series of both tiers
		// exist, and they must add up rather than fail as a duplicate label set.
		record(ErrorRatioSeries(base), fmt.Sprintf("sum(slo:sli_errors:rate%s%s) / sum(slo:sli_requests:rate%s%s)", w5, sel, w5, sel), lbls),
	}
	for _, w := range o.Windows() {
		if w == base || w == o.Window {
			continue // recorded from the 5m rates, below
		}
		rules = append(rules, record(ErrorRatioSeries(w), ind.errorRatio(dur(w)), lbls))
	}
	W := dur(o.Window)
	window := monitoringv1.RuleGroup{
		Name:     fmt.Sprintf("%s-slo-%s-window", o.Service, o.Name),
		Interval: ptr.To(monitoringv1.Duration(dur(windowInterval))),
		Rules: []monitoringv1.Rule{
			record(ErrorRatioSeries(o.Window), fmt.Sprintf("sum(sum_over_time(slo:sli_errors:rate%s%s[%s])) / sum(sum_over_time(slo:sli_requests:rate%s%s[%s]))", w5, sel, W, w5, sel, W), lbls),
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
	return monitoringv1.RuleGroup{Name: fmt.Sprintf("%s-slo-%s", o.Service, o.Name), Rules: rules}, window, nil
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
		Alert("ServiceNotScraped", fmt.Sprintf("absent(up%s)", sel), 10*time.Minute, lbls, "ticket",
			fmt.Sprintf("Prometheus scrapes no target of %s", svc.Name),
			"No target of "+svc.Name+" is scraped: check that the ServiceMonitor selects the service's Services and that Prometheus selects the ServiceMonitor."),
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
