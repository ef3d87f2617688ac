package gameday_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/gameday"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func profile(service string, g *v1alpha1.GameDaySpec) *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: "shop"},
		Spec:       v1alpha1.ReliabilityProfileSpec{Service: service, Tier: v1alpha1.TierCritical, GameDays: g},
	}
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name    string
		spec    *v1alpha1.GameDaySpec
		cadence time.Duration
		due     string // RFC 3339, empty when none is recorded
		err     string
	}{
		{"an omitted cadence is monthly, and nothing held is due now", &v1alpha1.GameDaySpec{}, 30 * 24 * time.Hour, "", ""},
		{"the next game day is due a cadence after the end of the last one, whatever the order", &v1alpha1.GameDaySpec{Cadence: "14d", Held: []v1alpha1.GameDay{
			{Name: "b", Start: "2026-11-12T14:00:00Z", End: "2026-11-12T16:00:00Z"},
			{Name: "a", Start: "2026-10-01T09:00:00+02:00", End: "2026-10-01T10:00:00+02:00"},
		}}, 14 * 24 * time.Hour, "2026-11-26T16:00:00Z", ""},
		{"a time that is not RFC 3339 is named by its field", &v1alpha1.GameDaySpec{Held: []v1alpha1.GameDay{
			{Name: "a", Start: "2026-11-12", End: "2026-11-12T16:00:00Z"},
		}}, 0, "", "spec.gameDays.held[0].start"},
		{"a cadence that is not in days is refused", &v1alpha1.GameDaySpec{Cadence: "4w"}, 0, "", "spec.gameDays.cadence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := gameday.PlanOf(profile("api", tt.spec))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want one naming %s", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Cadence != tt.cadence {
				t.Errorf("cadence %v, want %v", p.Cadence, tt.cadence)
			}
			due := p.Due()
			if (due == nil) != (tt.due == "") || (due != nil && due.Format(time.RFC3339) != tt.due) {
				t.Errorf("due %v, want %q", due, tt.due)
			}
			g := gameday.Rules(*p)
			if g.Name != "api-gamedays" || len(g.Rules) != 1 || g.Rules[0].Alert != gameday.OverdueAlert {
				t.Fatalf("rules %+v, want one GameDayOverdue in api-gamedays", g)
			}
			r := g.Rules[0]
			want := map[string]string{"service": "api", "namespace": "shop", "tier": "critical", "severity": "ticket"}
			for k, v := range want {
				if r.Labels[k] != v {
					t.Errorf("label %s=%q, want %q", k, r.Labels[k], v)
				}
			}
			if d := r.Annotations["description"]; !strings.Contains(d, "R-3") || !strings.Contains(d, "spec.gameDays.held") {
				t.Errorf("description %q names neither R-3 nor what to do", d)
			}
			if tt.due == "" && !strings.Contains(r.Annotations["description"], "No game day recorded") {
				t.Errorf("description %q, want it to say no game day is recorded", r.Annotations["description"])
			}
		})
	}
}

// TestGameDayOverdueWithPromtool runs the rules in promtool, whose clock starts at the Unix epoch: api held
// a game day that ended at 01:00 on 1970-01-01, with a cadence of 7 days, so the next is due on 1970-01-08
// at 01:00; search has recorded none, so its alert fires from the first evaluation.
func TestGameDayOverdueWithPromtool(t *testing.T) {
	held, err := gameday.PlanOf(profile("api", &v1alpha1.GameDaySpec{Cadence: "7d", Held: []v1alpha1.GameDay{
		{Name: "first", Start: "1970-01-01T00:00:00Z", End: "1970-01-01T01:00:00Z"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	none, err := gameday.PlanOf(profile("search", &v1alpha1.GameDaySpec{Cadence: "30d"}))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testenv.WriteYAML(t, filepath.Join(dir, "rules.yaml"), map[string]any{"groups": []any{gameday.Rules(*held), gameday.Rules(*none)}})
	firing := func(at string, services ...string) map[string]any {
		var samples []map[string]any
		for _, s := range services {
			samples = append(samples, map[string]any{"labels": `{service="` + s + `"}`, "value": 1})
		}
		return map[string]any{"expr": `count by (service) (ALERTS{alertname="GameDayOverdue",alertstate="firing"})`,
			"eval_time": at, "exp_samples": samples}
	}
	testenv.WriteYAML(t, filepath.Join(dir, "tests.yaml"), map[string]any{
		"rule_files": []string{"rules.yaml"}, "evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval": "1m",
			"promql_expr_test": []map[string]any{
				firing("1m", "search"),          // no game day recorded: due from the start
				firing("7d", "search"),          // api's is due at 7d1h
				firing("7d59m", "search"),       // still before due
				firing("7d2h", "api", "search"), // past due
			},
		}},
	})
	testenv.PromtoolTestRules(t, filepath.Join(dir, "tests.yaml"))
}
