package slo_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

func objectives(t *testing.T, mutate func(*v1alpha1.SLO)) ([]slo.Objective, error) {
	t.Helper()
	rp := availabilityProfile()
	mutate(&rp.Spec.SLOs[0])
	return slo.Objectives(rp)
}

func tierTable(o slo.Objective) string {
	var rows []string
	for _, t := range o.Tiers {
		rows = append(rows, fmt.Sprintf("%s %s %s %v/%v", t.Name, t.Severity, t.BurnRate.FloatString(1), t.Long, t.Short))
	}
	return strings.Join(rows, "; ")
}

func TestTiers(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1alpha1.SLO)
		want   string
	}{
		{"a 30-day SLO gets the four default tiers", func(*v1alpha1.SLO) {},
			"page-fast page 14.4 1h0m0s/5m0s; page-slow page 6.0 6h0m0s/30m0s; ticket-fast ticket 3.0 24h0m0s/2h0m0s; ticket-slow ticket 1.0 72h0m0s/6h0m0s"},
		{"a 7-day SLO scales the windows by 7/30, never below 5m", func(s *v1alpha1.SLO) { s.Window = "7d" },
			"page-fast page 14.4 14m0s/5m0s; page-slow page 6.0 1h24m0s/7m0s; ticket-fast ticket 3.0 5h36m0s/28m0s; ticket-slow ticket 1.0 16h48m0s/1h24m0s"},
		{"severities can be renamed", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{PageSeverity: "critical", TicketSeverity: "warning"}
		}, "page-fast critical 14.4 1h0m0s/5m0s; page-slow critical 6.0 6h0m0s/30m0s; ticket-fast warning 3.0 24h0m0s/2h0m0s; ticket-slow warning 1.0 72h0m0s/6h0m0s"},
		{"a tier can be disabled, re-tuned, or added", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{
				{Name: "ticket-fast", Disabled: true},
				{Name: "page-fast", BurnRate: "20", ShortWindow: "2m"},
				{Name: "weekly", Severity: v1alpha1.SeverityTicket, BurnRate: "0.5", LongWindow: "7d", ShortWindow: "1d"},
			}}
		}, "page-fast page 20.0 1h0m0s/2m0s; page-slow page 6.0 6h0m0s/30m0s; ticket-slow ticket 1.0 72h0m0s/6h0m0s; weekly ticket 0.5 168h0m0s/24h0m0s"},
		{"alerting can be disabled while the recording rules stay", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Disabled: true}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := objectives(t, tt.mutate)
			if err != nil {
				t.Fatal(err)
			}
			if got := tierTable(objs[0]); got != tt.want {
				t.Errorf("tiers:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestObjectivesRefuseWhatCannotBeRendered(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*v1alpha1.SLO)
		wantErr string
	}{
		{"an objective of 100 leaves no budget", func(s *v1alpha1.SLO) { s.Objective = "100" }, "spec.slos[0].objective"},
		{"a new tier without windows", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{{Name: "x", BurnRate: "2", Severity: v1alpha1.SeverityPage}}}
		}, "spec.slos[0].alerting.tiers[0]: the new tier x needs severity, burnRate, longWindow and shortWindow"},
		{"a short window as long as the long one", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{{Name: "page-fast", ShortWindow: "1h"}}}
		}, "spec.slos[0].alerting.tiers[0].shortWindow: tier page-fast's shortWindow 1h must be shorter than its longWindow 1h (its default)"},
		{"a long window alone, shorter than the default short window", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{{Name: "ticket-slow", Disabled: true}, {Name: "page-fast", LongWindow: "2m"}}}
		}, "spec.slos[0].alerting.tiers[1].longWindow: tier page-fast's shortWindow 5m (its default) must be shorter than its longWindow 2m"},
		{"a long window longer than the SLO window", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{{Name: "ticket-slow", LongWindow: "31d"}}}
		}, "spec.slos[0].alerting.tiers[0].longWindow: tier ticket-slow's longWindow 31d is longer than the SLO window 30d"},
		{"a burn rate that needs more than every request to fail", func(s *v1alpha1.SLO) {
			s.Alerting = &v1alpha1.SLOAlerting{Tiers: []v1alpha1.BurnRateTier{{Name: "page-fast", BurnRate: "2000"}}}
		}, "spec.slos[0].alerting.tiers[0].burnRate: tier page-fast can never fire: a burn rate of 2000 needs more than 100% of requests to fail at an error budget of 0.001; at most 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := objectives(t, tt.mutate)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestAQueryThatDoesNotParseIsAnInvalidQueryNamingTheField(t *testing.T) {
	tests := []struct {
		name, errors, wantField, wantMessage string
	}{
		{"an unclosed brace", `http_requests_total{code=~"5.."`, "spec.slos[0].indicator.ratio.errors", "unexpected end of input"},
		{"an expression instead of a selector", `sum(http_requests_total)`, "spec.slos[0].indicator.ratio.errors", "not a metric selector"},
		{"a range selector", `http_requests_total[5m]`, "spec.slos[0].indicator.ratio.errors", "it is a range selector"},
		{"a function call", `rate(http_requests_total[5m])`, "spec.slos[0].indicator.ratio.errors", "it is a call of the function rate()"},
		{"an offset", `http_requests_total offset 5m`, "spec.slos[0].indicator.ratio.errors", "offset and @ modifiers are not allowed"},
		{"an @ modifier", `http_requests_total @ 1700000000`, "spec.slos[0].indicator.ratio.errors", "offset and @ modifiers are not allowed"},
		{"no metric name", `{job="x"}`, "spec.slos[0].indicator.ratio.errors", "it names no metric"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := objectives(t, func(s *v1alpha1.SLO) { s.Indicator.Ratio.Errors = tt.errors })
			if err != nil {
				t.Fatal(err)
			}
			_, err = slo.Groups(slo.Service{Name: "api", Namespace: "shop", Tier: "critical"}, objs)
			var invalid *slo.InvalidQueryError
			if !errors.As(err, &invalid) || !strings.Contains(invalid.Field, tt.wantField) || !strings.Contains(err.Error(), tt.wantMessage) {
				t.Errorf("err = %v, want an InvalidQueryError on %s saying %q", err, tt.wantField, tt.wantMessage)
			}
		})
	}
}

func TestRulesAreExactAndNothingIsRecordedTwice(t *testing.T) {
	rp := availabilityProfile()
	rp.Spec.SLOs[0].Objective = "99.95"
	rp.Spec.SLOs = append(rp.Spec.SLOs, v1alpha1.SLO{Name: "latency", Objective: "99", Window: "28d",
		Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: `http_request_duration_seconds{job="api"}`, Threshold: "1"}}})
	groups := rulesOf(t, rp, "api_build_info")
	records, exprs := map[string]bool{}, map[string]bool{}
	var all strings.Builder
	for _, g := range groups {
		for _, r := range g.Rules {
			all.WriteString(r.Expr.StrVal + "\n")
			if r.Record == "" {
				continue
			}
			key := r.Record + fmt.Sprint(r.Labels)
			if records[key] || exprs[r.Expr.StrVal] {
				t.Errorf("recorded twice: %s = %s", r.Record, r.Expr.StrVal)
			}
			records[key], exprs[r.Expr.StrVal] = true, true
		}
	}
	text := all.String()
	for _, want := range []string{"/ 0.0005 > 14.4", `le=~"1(\\.0*)?"`, "[28d]", "absent(api_build_info{namespace=\"shop\",service=\"api\"})"} {
		if !strings.Contains(text, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	if strings.Contains(text, "0.000499") || strings.Contains(text, "0.0005000") {
		t.Errorf("a budget was written with float noise:\n%s", text)
	}
}

// BenchmarkRender1000SLOs renders 50 profiles of 20 SLOs (the most a profile may declare) and reports the
// rules and recorded series each SLO costs Prometheus.
func BenchmarkRender1000SLOs(b *testing.B) {
	var profiles []*v1alpha1.ReliabilityProfile
	for p := range 50 {
		rp := availabilityProfile()
		rp.Name, rp.Spec.Service = fmt.Sprintf("svc-%d", p), fmt.Sprintf("svc-%d", p)
		base := rp.Spec.SLOs[0]
		rp.Spec.SLOs = nil
		for s := range 20 {
			o := base
			o.Name = fmt.Sprintf("slo-%d", s)
			rp.Spec.SLOs = append(rp.Spec.SLOs, o)
		}
		profiles = append(profiles, rp)
	}
	var rules, series int
	b.ReportAllocs()
	for b.Loop() {
		rules, series = 0, 0
		for _, rp := range profiles {
			objs, err := slo.Objectives(rp)
			if err != nil {
				b.Fatal(err)
			}
			groups, err := slo.Groups(slo.Service{Name: rp.Spec.Service, Namespace: "shop", Tier: "critical"}, objs)
			if err != nil {
				b.Fatal(err)
			}
			for _, g := range groups[:len(groups)-1] { // the last group is the service's manifesto rules
				for _, r := range g.Rules {
					rules++
					if r.Record != "" {
						series++
					}
				}
			}
		}
	}
	b.ReportMetric(float64(rules)/1000, "rules/slo")
	b.ReportMetric(float64(series)/1000, "series/slo")
}

// TestEveryRenderedExpressionParses parses every expression of every indicator kind with Prometheus' own
// parser: ratio, classic and native latency histograms, with and without a version metric.
func TestEveryRenderedExpressionParses(t *testing.T) {
	rp := availabilityProfile()
	rp.Spec.SLOs = append(rp.Spec.SLOs,
		v1alpha1.SLO{Name: "latency", Objective: "99", Window: "7d", Indicator: v1alpha1.Indicator{
			Latency: &v1alpha1.LatencyIndicator{Histogram: `http_request_duration_seconds{job="api"}`, Threshold: "0.25"}}},
		v1alpha1.SLO{Name: "native", Objective: "95", Window: "28d", Indicator: v1alpha1.Indicator{
			Latency: &v1alpha1.LatencyIndicator{Histogram: `rpc_duration_seconds`, Threshold: "1", NativeHistogram: true}}},
	)
	groups := rulesOf(t, rp, "api_build_info")
	p := parser.NewParser(parser.Options{})
	n := 0
	for _, g := range groups {
		for _, r := range g.Rules {
			if _, err := p.ParseExpr(r.Expr.StrVal); err != nil {
				t.Errorf("%s%s in %s: %v\n%s", r.Record, r.Alert, g.Name, err, r.Expr.StrVal)
			}
			n++
		}
	}
	if n < 40 {
		t.Errorf("parsed only %d expressions", n)
	}
}

func TestMetricsNamedByNameMatcherOrQuotedUTF8NameAreSelectors(t *testing.T) {
	tests := []struct {
		name      string
		indicator v1alpha1.Indicator
		want      []string // each must appear in some rule expression
	}{
		{"a recording rule's name with colons in __name__",
			v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: `{__name__="job:http_errors:total",job="x"}`, Total: `job:http_requests:total{job="x"}`}},
			[]string{`{__name__="job:http_errors:total",job="x",namespace="shop"}`, `job:http_requests:total{job="x",namespace="shop"}`}},
		{"a Prometheus 3 quoted UTF-8 name",
			v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: `{"http.server.errors", job="x"}`, Total: `{"http.server.requests", job="x"}`}},
			[]string{`{__name__="http.server.errors",job="x",namespace="shop"}`, `{__name__="http.server.requests",job="x",namespace="shop"}`}},
		{"a histogram with a quoted UTF-8 name",
			v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: `{"http.server.duration", job="x"}`, Threshold: "0.3"}},
			[]string{`{__name__="http.server.duration_bucket",job="x",le=~"0\\.30*",namespace="shop"}`, `{__name__="http.server.duration_count",job="x",namespace="shop"}`}},
		{"a histogram named by __name__",
			v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: `{__name__="rpc_duration_seconds", job="x"}`, Threshold: "0.3"}},
			[]string{`rpc_duration_seconds_bucket{job="x",le=~"0\\.30*",namespace="shop"}`, `rpc_duration_seconds_count{job="x",namespace="shop"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := objectives(t, func(s *v1alpha1.SLO) { s.Indicator = tt.indicator })
			if err != nil {
				t.Fatal(err)
			}
			groups, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop", Tier: "critical"}, objs)
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			for _, g := range groups {
				for _, r := range g.Rules {
					all.WriteString(r.Expr.StrVal + "\n")
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(all.String(), w) {
					t.Errorf("no rule reads %s; rules:\n%s", w, all.String())
				}
			}
		})
	}
}

func TestAnLeMatcherInAHistogramIsRefused(t *testing.T) {
	objs, err := objectives(t, func(s *v1alpha1.SLO) {
		s.Indicator = v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: `http_request_duration_seconds{job="x",le="0.3"}`, Threshold: "0.3"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = slo.Groups(slo.Service{Name: "api", Namespace: "shop", Tier: "critical"}, objs)
	var invalid *slo.InvalidQueryError
	if !errors.As(err, &invalid) || invalid.Field != "spec.slos[0].indicator.latency.histogram" || !strings.Contains(err.Error(), "it has an le matcher") {
		t.Errorf("err = %v, want an InvalidQueryError on spec.slos[0].indicator.latency.histogram about le", err)
	}
}

// TestAPromQLIndicatorIsRefusedWhenItCannotBeAnSLI: each expression of a promQL indicator is parsed by
// Prometheus' parser and refused, naming its field, when the operator could not derive its windows from it
// or it would not yield one series per group.
func TestAPromQLIndicatorIsRefusedWhenItCannotBeAnSLI(t *testing.T) {
	const good = `rate(http_requests_total[$window])` // the operator sums it
	tests := []struct {
		name, errors string
		groupBy      []string
		want         string // in the error; empty: accepted
	}{
		{"a rate over $window", `sum(rate(http_requests_total{code=~"5.."}[$window]))`, nil, ""},
		{"a subquery over $window", `sum(rate(http_requests_total{code=~"5.."}[$window:1m]))`, nil, ""},
		{"grouped, and summed by the group", `sum by (route) (rate(http_requests_total{code=~"5.."}[$window]))`, []string{"route"}, ""},
		{"grouped, and not summed", `rate(http_requests_total{code=~"5.."}[$window])`, []string{"route"}, ""},
		{"no $window", `sum(rate(http_requests_total[5m]))`, nil, "does not use $window"},
		{"a fixed range beside $window", `sum(rate(a[$window])) + sum(rate(b[1h]))`, nil, "the range [1h] is fixed"},
		{"$window only in a string", `label_replace(vector(1), "w", "$window", "", "")`, nil, "inside a string"},
		{"no range at all", `sum(http_requests_total{w="$window"})`, nil, "nowhere as a range"},
		{"a range vector", `rate(http_requests_total[$window])[5m:]`, nil, "instant vector"},
		{"an offset", `sum(rate(http_requests_total[$window] offset 1h))`, nil, "offset and @"},
		{"does not parse", `sum(rate(http_requests_total[$window])`, nil, "spec.slos[0].indicator.promQL.errors"},
		{"$window in a label value", `sum(rate(e{path="$window"}[$window]))`, nil, "appears 2 times but is the range of 1 rates"},
		{"$windows", `sum(rate(e[$windows]))`, nil, "$windows is not the placeholder"},
		{"a selector of every metric", `count(count_over_time({__name__=~".+"}[$window]))`, nil, "names no metric"},
		{"sums the group away", `sum(rate(http_requests_total[$window]))`, []string{"route"}, "sums away the groupBy label route"},
		{"keeps the group out", `sum without (route) (rate(http_requests_total[$window]))`, []string{"route"}, "sums away the groupBy label route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := availabilityProfile()
			rp.Spec.SLOs[0].Indicator = v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{Errors: tt.errors, Total: good}}
			rp.Spec.SLOs[0].GroupBy = tt.groupBy
			errs := slo.Problems(rp)
			_, renderErr := slo.Objectives(rp)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("refused: %v", errs)
				}
				objectives, _ := slo.Objectives(rp)
				if _, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop"}, objectives); err != nil || renderErr != nil {
					t.Fatalf("does not render: %v %v", err, renderErr)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) || !strings.HasPrefix(errs[0].Error(), "spec.slos[0].indicator.promQL.errors: ") {
				t.Fatalf("errors = %v, want one naming spec.slos[0].indicator.promQL.errors and saying %q", errs, tt.want)
			}
			var invalid *slo.InvalidQueryError
			objectives, _ := slo.Objectives(rp)
			if _, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop"}, objectives); !errors.As(err, &invalid) {
				t.Errorf("Groups: %v, want an InvalidQueryError", err)
			}
		})
	}
}

// TestEverySelectorOfAPromQLIndicatorIsLimitedToTheNamespace: a promQL expression can hold many selectors; each
// that names no namespace is limited to the profile's, as a ratio's selectors are.
func TestEverySelectorOfAPromQLIndicatorIsLimitedToTheNamespace(t *testing.T) {
	rp := availabilityProfile()
	rp.Spec.SLOs[0].Indicator = v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{
		Errors: `sum(rate(a_total[$window])) + sum(rate(b_total{namespace="shared"}[$window]))`,
		Total:  `sum(rate({__name__="c_total"}[$window]))`,
	}}
	groups := rulesOf(t, rp, "")
	var exprs []string
	for _, r := range groups[0].Rules[:2] {
		exprs = append(exprs, r.Expr.StrVal)
	}
	all := strings.Join(exprs, "\n")
	for _, want := range []string{`a_total{namespace="shop"}[5m]`, `b_total{namespace="shared"}[5m]`, `{__name__="c_total",namespace="shop"}[5m]`} {
		if !strings.Contains(all, want) {
			t.Errorf("rules lack %s:\n%s", want, all)
		}
	}
}

// TestGroupByIsCheckedAcrossFields: what the CRD cannot see across fields is refused by the render code too.
func TestGroupByIsCheckedAcrossFields(t *testing.T) {
	for _, tt := range []struct {
		name   string
		mutate func(*v1alpha1.ReliabilityProfile)
		want   string
	}{
		{"a routing label that is also a group", func(rp *v1alpha1.ReliabilityProfile) {
			rp.Spec.SLOs[0].GroupBy = []string{"route"}
			rp.Spec.Routing = &v1alpha1.Routing{Labels: map[string]string{"route": "all"}}
		}, `spec.routing.labels: "route" is also in spec.slos[0].groupBy`},
		{"a group listed twice", func(rp *v1alpha1.ReliabilityProfile) { rp.Spec.SLOs[0].GroupBy = []string{"route", "route"} },
			`spec.slos[0].groupBy[1]: "route" is listed twice`},
		{"an operator label", func(rp *v1alpha1.ReliabilityProfile) { rp.Spec.SLOs[0].GroupBy = []string{"slo"} },
			`spec.slos[0].groupBy[0]: "slo" is not a label the SLO can be grouped by`},
		{"maxGroups without groupBy", func(rp *v1alpha1.ReliabilityProfile) { rp.Spec.SLOs[0].MaxGroups = new(int32) },
			`spec.slos[0].maxGroups: only applies with groupBy`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rp := availabilityProfile()
			tt.mutate(rp)
			if _, err := slo.Objectives(rp); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestARoutingTemplateIsRefusedByTheRenderCodeToo: the CRD refuses "{{" in routing values; the render code
// does as well, for a cluster whose CRD is older than the operator.
func TestARoutingTemplateIsRefusedByTheRenderCodeToo(t *testing.T) {
	rp := availabilityProfile()
	rp.Spec.Routing = &v1alpha1.Routing{Annotations: map[string]string{"note": `{{ query "up{namespace='billing'}" }}`}}
	if _, err := slo.Objectives(rp); err == nil || !strings.HasPrefix(err.Error(), "spec.routing.annotations[note]: must not contain '{{'") {
		t.Errorf("err = %v", err)
	}
	rp = availabilityProfile()
	rp.Spec.SLOs[0].Routing = &v1alpha1.Routing{Labels: map[string]string{"team": "{{ $labels.x }}"}}
	if _, err := slo.Objectives(rp); err == nil || !strings.HasPrefix(err.Error(), "spec.slos[0].routing.labels[team]: must not contain '{{'") {
		t.Errorf("err = %v", err)
	}
}

// TestAPlatformAlertLabelNamedLikeAGroupLeavesTheGroupsApart: a grouped SLO's alerts keep each group's own
// value of the label, whatever the platform's alert labels say.
func TestAPlatformAlertLabelNamedLikeAGroupLeavesTheGroupsApart(t *testing.T) {
	rp := availabilityProfile()
	rp.Spec.SLOs[0].GroupBy = []string{"region"}
	objectives, err := slo.Objectives(rp)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop", AlertLabels: map[string]string{"region": "eu", "cluster": "c1"}}, objectives)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			if _, grouped := r.Labels["region"]; grouped != (g.Name == "api-manifesto") || r.Labels["cluster"] != "c1" {
				t.Errorf("%s in %s: labels %v", r.Alert, g.Name, r.Labels)
			}
		}
	}
}
