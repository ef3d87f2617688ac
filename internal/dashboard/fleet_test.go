package dashboard

import (
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

// Every query of the fleet dashboard parses, and reads only the operator's compliance metrics.
func TestTheFleetDashboardsQueriesParseAndReadTheComplianceMetrics(t *testing.T) {
	d := Fleet()
	queries := d.Queries()
	if len(queries) < 8 {
		t.Fatalf("%d queries, want the 8 panels' and more", len(queries))
	}
	for _, q := range queries {
		expr, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		for _, sel := range parser.ExtractSelectors(expr) {
			for _, m := range sel {
				if m.Name == "__name__" && !strings.HasPrefix(m.Value, "reliability_operator_") {
					t.Errorf("%s reads %s, not one of the operator's metrics", q, m.Value)
				}
			}
		}
	}
}
