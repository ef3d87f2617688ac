package openslo_test

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/reliability-operator/reliability-operator/internal/openslo"
)

// FuzzQueries feeds any query to the mapping: it must not panic, and a promQL indicator it makes must use
// $window and parse once $window is a range again.
func FuzzQueries(f *testing.F) {
	for _, q := range []string{
		`sum(rate(http_requests_total{code=~"5.."}[5m]))`,
		`http_requests_total{job="a"}`,
		`sum(rate(a[5m])) / sum(rate(b [5m]))`,
		`rate(a[5m:1m])`,
		`sum(increase(a[1h] offset 1h))`,
	} {
		f.Add(q)
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, q string) {
		metric := func(query string) map[string]any {
			return map[string]any{"metricSource": map[string]any{"type": "Prometheus", "spec": map[string]any{"query": query}}}
		}
		slo := map[string]any{
			"apiVersion": "openslo/v1", "kind": "SLO", "metadata": map[string]any{"name": "a"},
			"spec": map[string]any{
				"service": "s", "budgetingMethod": "Occurrences",
				"timeWindow": []any{map[string]any{"duration": "7d", "isRolling": true}},
				"indicator":  map[string]any{"spec": map[string]any{"ratioMetric": map[string]any{"bad": metric(q), "total": metric(`sum(rate(t_total[5m]))`)}}},
				"objectives": []any{map[string]any{"target": 0.99}},
			},
		}
		res := openslo.Convert([]openslo.Document{{Source: "fuzz", Object: slo}}, openslo.Options{Tier: "non-critical"})
		for _, pr := range res.Profiles {
			ind := pr.Object["spec"].(map[string]any)["slos"].([]any)[0].(map[string]any)["indicator"].(map[string]any)
			pq, ok := ind["promQL"].(map[string]any)
			if !ok {
				continue
			}
			e := pq["errors"].(string)
			if !strings.Contains(e, "$window") {
				t.Fatalf("%q became %q, without $window", q, e)
			}
			if _, err := p.ParseExpr(strings.ReplaceAll(e, "$window", "5m")); err != nil {
				t.Fatalf("%q became %q, which does not parse with a range: %v", q, e, err)
			}
		}
	})
}
