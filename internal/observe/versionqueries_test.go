package observe

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Many version metrics are asked in a few queries of bounded size, each of which Prometheus parses, every
// name once.
func TestVersionMetricsAreAskedInBoundedQueries(t *testing.T) {
	var profiles []v1alpha1.ReliabilityProfile
	for i := range 450 {
		rp := v1alpha1.ReliabilityProfile{}
		rp.Spec.Metrics.VersionMetric = fmt.Sprintf("svc_%d:build_info", i%430) // some share a name
		profiles = append(profiles, rp, v1alpha1.ReliabilityProfile{})          // and some declare none
	}
	queries := versionQueries(profiles)
	if len(queries) != 3 {
		t.Fatalf("%d queries for 430 names, want 3 of at most %d", len(queries), versionMetricsPerQuery)
	}
	names := 0
	for _, q := range queries {
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(q); err != nil {
			t.Errorf("%s: %v", q[:80], err)
		}
		names += strings.Count(q, "build_info")
	}
	if names != 430 {
		t.Errorf("the queries name %d metrics, want each of the 430 once", names)
	}
}
