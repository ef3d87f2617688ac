package placement

import (
	"path/filepath"
	"testing"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// The P-3 alerts that config/prometheus ships, run by the real promtool against the operator's metrics.
func TestTheSpotAlertsFireOnlyAboveTheLimits(t *testing.T) {
	dir := t.TempDir()
	rules := testenv.ShippedRules(t, "spot_rules.yaml", dir)

	// shop/web: 0.7 on spot against a limit of 0.5 from the start; shop/api: 0.3 against 0.5.
	// Pods: 6 spot and 4 on-demand in all, so the fleet is at 0.6.
	series := []map[string]any{
		{"series": `reliability_operator_spot_fraction{namespace="shop",profile="web",service="web"}`, "values": "0.7x120"},
		{"series": `reliability_operator_spot_fraction_limit{namespace="shop",profile="web",service="web"}`, "values": "0.5x120"},
		{"series": `reliability_operator_spot_fraction{namespace="shop",profile="api",service="api"}`, "values": "0.3x120"},
		{"series": `reliability_operator_spot_fraction_limit{namespace="shop",profile="api",service="api"}`, "values": "0.5x120"},
		{"series": `reliability_operator_placement_pods{namespace="shop",profile="web",service="web",capacity="spot"}`, "values": "5x120"},
		{"series": `reliability_operator_placement_pods{namespace="shop",profile="web",service="web",capacity="on-demand"}`, "values": "2x120"},
		{"series": `reliability_operator_placement_pods{namespace="shop",profile="api",service="api",capacity="spot"}`, "values": "1x120"},
		{"series": `reliability_operator_placement_pods{namespace="shop",profile="api",service="api",capacity="on-demand"}`, "values": "2x120"},
	}
	webAlert := []map[string]any{{
		"exp_labels": map[string]string{"namespace": "shop", "profile": "web", "service": "web", "severity": "ticket"},
		"exp_annotations": map[string]string{
			"summary":     "web runs more of its pods on spot nodes than its profile allows (P-3)",
			"description": "70% of the running pods of web (shop) are on spot nodes, above the limit of its ReliabilityProfile web. See the SpotWithinLimit condition: kubectl get rprof web -n shop -o yaml.",
		},
	}}
	fleetAlert := []map[string]any{{
		"exp_labels": map[string]string{"severity": "ticket"},
		"exp_annotations": map[string]string{
			"summary":     "More than half of the profiled services' pods run on spot nodes (P-3: at most 50% of the fleet)",
			"description": "60% of the pods of services with a ReliabilityProfile are on spot nodes.",
		},
	}}
	tests := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":     "1m",
			"input_series": series,
			"promql_expr_test": []map[string]any{{
				"expr": "reliability:spot_fraction:fleet", "eval_time": "5m",
				"exp_samples": []map[string]any{{"labels": "reliability:spot_fraction:fleet", "value": 0.6}},
			}},
			"alert_rule_test": []map[string]any{
				{"alertname": "ServiceSpotFractionAboveLimit", "eval_time": "20m", "exp_alerts": []any{}},
				{"alertname": "ServiceSpotFractionAboveLimit", "eval_time": "35m", "exp_alerts": webAlert},
				{"alertname": "FleetSpotFractionAboveHalf", "eval_time": "50m", "exp_alerts": []any{}},
				{"alertname": "FleetSpotFractionAboveHalf", "eval_time": "70m", "exp_alerts": fleetAlert},
			},
		}},
	}
	testFile := filepath.Join(dir, "tests.yaml")
	testenv.WriteYAML(t, testFile, tests)
	testenv.PromtoolTestRules(t, testFile)
}
