package slo_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/slo"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// The scenarios run the rendered rules in the real promtool (`promtool test rules`) against synthetic
// traffic: 600 requests a minute, of which a given share fail, scraped every minute. Each check names the
// burn-rate tiers that must be firing at a time, and no others.

const requestsPerMinute = 600

type check struct {
	at     string   // evaluation time, such as "70m"
	firing []string // burn-rate tiers firing then, as "tier/severity"
}

type scenario struct {
	name    string
	minutes int
	// errorShare is the share of failing requests during minute m.
	errorShare func(m int) float64
	checks     []check
}

// The SLO under test: 99.9% over 30 days, so the error budget is 0.1% and a burn rate of 1 is 0.1% errors.
func availabilityProfile() *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: "api", Tier: v1alpha1.TierCritical,
			SLOs: []v1alpha1.SLO{{
				Name: "availability", Objective: "99.9", Window: "30d",
				Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{
					Errors: `http_requests_total{job="api",code=~"5.."}`,
					Total:  `http_requests_total{job="api"}`,
				}},
			}},
		},
	}
}

func TestBurnRateScenariosWithPromtool(t *testing.T) {
	steady := func(share float64) func(int) float64 { return func(int) float64 { return share } }
	scenarios := []scenario{
		{
			name: "a total outage pages within 10 minutes", minutes: 75,
			errorShare: func(m int) float64 { return map[bool]float64{true: 1, false: 0}[m >= 60] },
			checks: []check{
				{at: "59m", firing: nil},
				{at: "70m", firing: []string{"page-fast/page", "page-slow/page", "ticket-fast/ticket", "ticket-slow/ticket"}},
			},
		},
		{
			name: "a 7x burn pages through the 6h/30m pair and not the 1h/5m one", minutes: 7 * 60,
			errorShare: steady(0.007),
			checks: []check{
				{at: "7h", firing: []string{"page-slow/page", "ticket-fast/ticket", "ticket-slow/ticket"}},
			},
		},
		{
			name: "a 2x burn raises a ticket and no page", minutes: 7 * 60,
			errorShare: steady(0.002),
			checks: []check{
				{at: "7h", firing: []string{"ticket-slow/ticket"}},
			},
		},
		{
			name: "a 0.5x burn never alerts", minutes: 24 * 60,
			errorShare: steady(0.0005),
			checks:     []check{{at: "1h", firing: nil}, {at: "6h", firing: nil}, {at: "24h", firing: nil}},
		},
		{
			name: "recovery resolves the page once the short window clears", minutes: 150,
			errorShare: func(m int) float64 { return map[bool]float64{true: 1, false: 0}[m >= 60 && m < 80] },
			checks: []check{
				{at: "78m", firing: []string{"page-fast/page", "page-slow/page", "ticket-fast/ticket", "ticket-slow/ticket"}},
				// 10 minutes after recovery the 5m window is clean: the fast page resolves though the 1h
				// window is still a third errors. The 30m window still holds the outage.
				{at: "90m", firing: []string{"page-slow/page", "ticket-fast/ticket", "ticket-slow/ticket"}},
				// Past 30 minutes no page is left; tickets (2h and 6h short windows) stay for follow-up.
				{at: "115m", firing: []string{"ticket-fast/ticket", "ticket-slow/ticket"}},
			},
		},
	}

	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": rulesOf(t, availabilityProfile(), "")})

	var tests []map[string]any
	for _, s := range scenarios {
		tests = append(tests, s.promtoolTest())
	}
	testFile := filepath.Join(dir, "tests.yaml")
	testenv.WriteYAML(t, testFile, map[string]any{"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m", "tests": tests})

	t.Logf("promtool runs the scenarios in this order: %s", names(scenarios)) // shown when it fails
	testenv.PromtoolTestRules(t, testFile)
}

func (s scenario) promtoolTest() map[string]any {
	var ok, failed []string
	var okTotal, failedTotal float64
	for m := 0; m <= s.minutes; m++ {
		ok = append(ok, strconv.FormatFloat(okTotal, 'f', -1, 64))
		failed = append(failed, strconv.FormatFloat(failedTotal, 'f', -1, 64))
		share := s.errorShare(m)
		failedTotal += requestsPerMinute * share
		okTotal += requestsPerMinute * (1 - share)
	}
	var exprTests []map[string]any
	for _, c := range s.checks {
		var samples []map[string]any
		for _, f := range c.firing {
			tier, severity, _ := strings.Cut(f, "/")
			samples = append(samples, map[string]any{
				"labels": fmt.Sprintf(`{burnrate_tier=%q,severity=%q}`, tier, severity), "value": 1,
			})
		}
		exprTests = append(exprTests, map[string]any{
			"expr":        `count by (burnrate_tier, severity) (ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",service="api",slo="availability"})`,
			"eval_time":   c.at,
			"exp_samples": samples,
		})
	}
	return map[string]any{
		"name":     s.name,
		"interval": "1m",
		"input_series": []map[string]any{
			{"series": `http_requests_total{job="api",namespace="shop",code="200"}`, "values": strings.Join(ok, " ")},
			{"series": `http_requests_total{job="api",namespace="shop",code="500"}`, "values": strings.Join(failed, " ")},
		},
		"promql_expr_test": exprTests,
	}
}

// rulesOf renders the rule groups of a profile for the service "api" in "shop".
func rulesOf(t *testing.T, rp *v1alpha1.ReliabilityProfile, versionMetric string) []monitoringv1.RuleGroup {
	t.Helper()
	objectives, err := slo.Objectives(rp)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := slo.Groups(slo.Service{Name: "api", Namespace: "shop", Tier: "critical", VersionMetric: versionMetric}, objectives)
	if err != nil {
		t.Fatal(err)
	}
	return groups
}

func names(ss []scenario) string {
	var n []string
	for _, s := range ss {
		n = append(n, s.name)
	}
	return strings.Join(n, "; ")
}

// TestATierChangeKeepsTheSLOWindowSeries: the SLO-window ratio sums recorded 5m rates over 30 days, so after
// the profile's tier changes, the window holds series of both tiers. They must add up into one series, not
// fail with a duplicate label set and blank the budget for a month.
func TestATierChangeKeepsTheSLOWindowSeries(t *testing.T) {
	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": rulesOf(t, availabilityProfile(), "")})
	old := `{namespace="shop",service="api",slo="availability",tier="non-critical"}`
	testenv.WriteYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{
		"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval": "1m",
			"input_series": []map[string]any{
				// What the rules recorded while the service was non-critical, until an hour in.
				{"series": "slo:sli_errors:rate5m" + old, "values": "1x60 stale"},
				{"series": "slo:sli_requests:rate5m" + old, "values": "10x60 stale"},
				{"series": `http_requests_total{job="api",namespace="shop",code="200"}`, "values": "0+600x120"},
			},
			"promql_expr_test": []map[string]any{
				{"expr": `count(slo:sli_error:ratio_rate30d{service="api"})`, "eval_time": "30m", "exp_samples": []map[string]any{{"labels": "{}", "value": 1}}},
				{"expr": `count(slo:sli_error:ratio_rate5m{service="api"})`, "eval_time": "30m", "exp_samples": []map[string]any{{"labels": "{}", "value": 1}}},
				{"expr": `count(slo:error_budget_remaining:ratio{service="api"})`, "eval_time": "90m", "exp_samples": []map[string]any{{"labels": "{}", "value": 1}}},
			},
		}},
	})
	testenv.PromtoolTestRules(t, filepath.Join(dir, "tests.yaml"))
}
