package compliance

import (
	"path/filepath"
	"testing"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// The F-3 alert that config/prometheus ships, run by the real promtool on the operator's metric: an exception
// ending 15 days after the start alerts once fewer than 14 days are left (and the hour of for: has passed).
func TestTheExceptionAlertFiresTwoWeeksBeforeTheEnd(t *testing.T) {
	dir := t.TempDir()
	rules := testenv.ShippedRules(t, "compliance_rules.yaml", dir)
	alert := []map[string]any{{
		"exp_labels": map[string]string{"namespace": "shop", "profile": "web", "service": "web", "rule": "R-4", "severity": "ticket"},
		"exp_annotations": map[string]string{
			"summary":     "The exception of web to R-4 ends within 14 days (F-3)",
			"description": "The exception to R-4 in ReliabilityProfile web (shop) ends in 13d 22h 0m 0s. Then the rule is judged again: renew the exception at the review, or fix what it waives. kubectl get rprof web -n shop -o yaml.",
		},
	}}
	tests := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "5m",
		"tests": []map[string]any{{
			"interval": "5m",
			"input_series": []map[string]any{{
				"series": `reliability_operator_exception_expiry_timestamp_seconds{namespace="shop",profile="web",service="web",rule="R-4"}`,
				"values": "1296000x4400",
			}},
			"alert_rule_test": []map[string]any{
				{"alertname": "ManifestoExceptionEndingSoon", "eval_time": "23h", "exp_alerts": []any{}},
				{"alertname": "ManifestoExceptionEndingSoon", "eval_time": "26h", "exp_alerts": alert},
				// Once it has ended, the ExceptionExpired Event and the rule's verdict take over.
				{"alertname": "ManifestoExceptionEndingSoon", "eval_time": "361h", "exp_alerts": []any{}},
			},
		}},
	}
	testFile := filepath.Join(dir, "tests.yaml")
	testenv.WriteYAML(t, testFile, tests)
	testenv.PromtoolTestRules(t, testFile)
}
