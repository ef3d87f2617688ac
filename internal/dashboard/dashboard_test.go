package dashboard_test

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dashboard"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// TestEveryPanelQueryParsesAndReadsARecordedSeries builds the dashboard of a service with every indicator
// kind and checks each panel query with Prometheus' parser, and that every series it reads is one the
// rules record (or the service's own version metric): a renamed rule cannot leave a panel empty.
func TestEveryPanelQueryParsesAndReadsARecordedSeries(t *testing.T) {
	rp := &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{Service: "api", Tier: v1alpha1.TierCritical, SLOs: []v1alpha1.SLO{
			{Name: "availability", Objective: "99.9", ExternalObjective: "99.5", Window: "30d", Indicator: v1alpha1.Indicator{
				Ratio: &v1alpha1.RatioIndicator{Errors: `http_requests_total{code=~"5.."}`, Total: `http_requests_total`}}},
			{Name: "latency", Objective: "99", Window: "7d", Indicator: v1alpha1.Indicator{
				Latency: &v1alpha1.LatencyIndicator{Histogram: `http_request_duration_seconds`, Threshold: "0.25"}}},
		}},
	}
	objectives, err := slo.Objectives(rp)
	if err != nil {
		t.Fatal(err)
	}
	svc := slo.Service{Name: "api", Namespace: "shop", Tier: "critical", VersionMetric: "api_build_info"}
	groups, err := slo.Groups(svc, objectives)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]bool{"api_build_info": true}
	for _, g := range groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}

	d := dashboard.Build(dashboard.Service{Name: "api", Namespace: "shop", Title: "api", VersionMetric: "api_build_info"}, objectives)
	p := parser.NewParser(parser.Options{})
	queries := d.Queries()
	if len(queries) < 15 {
		t.Fatalf("only %d queries: %q", len(queries), queries)
	}
	for _, q := range queries {
		expr, err := p.ParseExpr(q)
		if err != nil {
			t.Errorf("%q does not parse: %v", q, err)
			continue
		}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && !recorded[vs.Name] {
				t.Errorf("%q reads %s, which no rule records", q, vs.Name)
			}
			return nil
		})
	}
	for _, want := range []string{"slo:error_budget_remaining:ratio", "slo:external_objective:ratio", "slo:sli_error:ratio_rate1h",
		"slo:sli_latency:p99_rate5m", "service:up:ratio", "count by (version)"} {
		if !strings.Contains(strings.Join(queries, "\n"), want) {
			t.Errorf("no panel reads %s", want)
		}
	}
	for _, panel := range d.Panels {
		if panel.GridPos.X+panel.GridPos.W > 24 {
			t.Errorf("panel %q overflows the 24-column grid: %+v", panel.Title, panel.GridPos)
		}
	}
	if d.UID != dashboard.UID("shop", "api") || d.UID == dashboard.UID("staging", "api") {
		t.Errorf("the UID must be stable per namespace and service: %s", d.UID)
	}
}
