package dr_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func profile(d *v1alpha1.DisasterRecoverySpec) *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
		Spec:       v1alpha1.ReliabilityProfileSpec{Service: "api", Tier: v1alpha1.TierCritical, DisasterRecovery: d},
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name          string
		spec          *v1alpha1.DisasterRecoverySpec
		rpo, interval time.Duration
		due, group    string
		alerts        []string
	}{
		{"a backup without an RPO gets the default of 24h, backed up every 12h", &v1alpha1.DisasterRecoverySpec{Backup: &v1alpha1.BackupSpec{}},
			24 * time.Hour, 12 * time.Hour, "", "api-disaster-recovery", []string{"BackupStale", "BackupMissing"}},
		{"a 1h RPO is backed up every 30m", &v1alpha1.DisasterRecoverySpec{RPO: "1h", Backup: &v1alpha1.BackupSpec{}},
			time.Hour, 30 * time.Minute, "", "api-disaster-recovery", []string{"BackupStale", "BackupMissing"}},
		{"a very short RPO is backed up every 5m at least", &v1alpha1.DisasterRecoverySpec{RPO: "6m", Backup: &v1alpha1.BackupSpec{}},
			6 * time.Minute, 5 * time.Minute, "", "api-disaster-recovery", []string{"BackupStale", "BackupMissing"}},
		{"a recorded drill is due 90 days later", &v1alpha1.DisasterRecoverySpec{LastRestoreTest: "2026-10-01"},
			0, 5 * time.Minute, "2026-12-30", "api-disaster-recovery", []string{"RestoreDrillOverdue"}},
		{"a runbook alone needs no alert", &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks.example.com/x"},
			0, 5 * time.Minute, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := dr.PlanOf(profile(tt.spec))
			if err != nil {
				t.Fatal(err)
			}
			if p.RPO != tt.rpo || p.BackupInterval() != tt.interval {
				t.Errorf("RPO %v, interval %v; want %v, %v", p.RPO, p.BackupInterval(), tt.rpo, tt.interval)
			}
			if due := p.RestoreTestDue(); (due == nil) != (tt.due == "") || (due != nil && due.Format(time.DateOnly) != tt.due) {
				t.Errorf("restore test due %v, want %q", due, tt.due)
			}
			g := dr.Rules(*p)
			var names []string
			if g != nil {
				for _, r := range g.Rules {
					names = append(names, r.Alert)
				}
			}
			if (g == nil) != (tt.group == "") || strings.Join(names, ",") != strings.Join(tt.alerts, ",") {
				t.Errorf("rules %v (group %v), want %v", names, g, tt.alerts)
			}
		})
	}
}

// TestDisasterRecoveryAlertsWithPromtool runs the rules in promtool, whose clock starts at the Unix epoch:
// the last backup succeeded at time 0 and the RPO is 1h; the restore drill happened on 1970-01-01 and may
// be a day old.
func TestDisasterRecoveryAlertsWithPromtool(t *testing.T) {
	p, err := dr.PlanOf(profile(&v1alpha1.DisasterRecoverySpec{RPO: "1h", Backup: &v1alpha1.BackupSpec{},
		LastRestoreTest: "1970-01-01", RestoreTestMaxAge: "1d", RunbookURL: "https://runbooks.example.com/api/dr"}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": []any{dr.Rules(*p)}})
	firing := func(at string, alerts ...string) map[string]any {
		var samples []map[string]any
		for _, a := range alerts {
			samples = append(samples, map[string]any{"labels": `{alertname="` + a + `"}`, "value": 1})
		}
		return map[string]any{"expr": `count by (alertname) (ALERTS{alertstate="firing",service="api"})`, "eval_time": at, "exp_samples": samples}
	}
	testenv.WriteYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{
		"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":     "5m",
			"input_series": []map[string]any{{"series": `velero_backup_last_successful_timestamp{schedule="` + dr.ScheduleName("shop", "api") + `"}`, "values": "0x600"}},
			"promql_expr_test": []map[string]any{
				firing("30m"),                // a fresh backup, a recent drill
				firing("75m", "BackupStale"), // 75 minutes since the last backup: past the 1h RPO for 10m
				firing("25h", "BackupStale", "RestoreDrillOverdue"),
			},
		}},
	})
	testenv.PromtoolTestRules(t, filepath.Join(dir, "tests.yaml"))
}

func TestScheduleNamesFitALabelValueAndNeverCollide(t *testing.T) {
	long := strings.Repeat("n", 63)
	names := map[string]string{
		"a-b/c": dr.ScheduleName("a-b", "c"), "a/b-c": dr.ScheduleName("a", "b-c"),
		"long/long": dr.ScheduleName(long, long+"x"), "long/long2": dr.ScheduleName(long, long+"y"),
	}
	seen := map[string]string{}
	for pair, name := range names {
		if len(name) > 63 || strings.HasSuffix(name, "-") {
			t.Errorf("%s: %q is not a valid label value", pair, name)
		}
		if other, ok := seen[name]; ok {
			t.Errorf("%s and %s share the Schedule name %q", pair, other, name)
		}
		seen[name] = pair
	}
	if !strings.HasPrefix(dr.ScheduleName("shop", "checkout"), "shop-checkout-") {
		t.Errorf("a short name should stay readable: %s", dr.ScheduleName("shop", "checkout"))
	}
}
