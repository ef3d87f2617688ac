package admission_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/admission"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// TestTheNewIndicatorsAreReviewed: a promQL expression that cannot be an SLI is refused at admission naming its
// field; a boolGauge over a counter and a groupBy over a label that changes with every restart are accepted
// with a warning that says why they surprise.
func TestTheNewIndicatorsAreReviewed(t *testing.T) {
	profile := func(s v1alpha1.SLO) *v1alpha1.ReliabilityProfile {
		s.Name, s.Objective, s.Window = "s", "99.9", "30d"
		return &v1alpha1.ReliabilityProfile{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: "shop"},
			Spec: v1alpha1.ReliabilityProfileSpec{Service: "api", Tier: v1alpha1.TierNonCritical,
				Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}, SLOs: []v1alpha1.SLO{s}},
		}
	}
	ratio := v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: `http_requests_total{code=~"5.."}`, Total: `http_requests_total`}}
	tests := []struct {
		name           string
		slo            v1alpha1.SLO
		refusal, field string
		warning        string
	}{
		{name: "a promQL ratio over $window", slo: v1alpha1.SLO{Indicator: v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{
			Errors: `sum(rate(a_total{code="500"}[$window]))`, Total: `sum(rate(a_total[$window]))`}}}},
		{name: "a promQL ratio with a fixed range", slo: v1alpha1.SLO{Indicator: v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{
			Errors: `sum(rate(a_total{code="500"}[$window]))`, Total: `sum(rate(a_total[1h]))`}}},
			field: "spec.slos[0].indicator.promQL.total", refusal: "it does not use $window as the range of its rates"},
		{name: "a promQL selector of another namespace", slo: v1alpha1.SLO{Indicator: v1alpha1.Indicator{PromQL: &v1alpha1.PromQLIndicator{
			Errors: `sum(rate(a_total{code="500"}[$window]))`, Total: `sum(rate(a_total[$window])) + sum(rate(a_total{namespace="billing"}[$window]))`}}},
			warning: `spec.slos[0].indicator.promQL.total: the matcher namespace="billing" reads series outside the profile's namespace shop`},
		{name: "a boolGauge over a counter", slo: v1alpha1.SLO{Indicator: v1alpha1.Indicator{BoolGauge: &v1alpha1.BoolGaugeIndicator{Selector: `probe_total`}}},
			warning: "spec.slos[0].indicator.boolGauge.selector: probe_total looks like a counter"},
		{name: "a boolGauge over probe_success", slo: v1alpha1.SLO{Indicator: v1alpha1.Indicator{BoolGauge: &v1alpha1.BoolGaugeIndicator{Selector: `probe_success`}}}},
		{name: "grouped by pod", slo: v1alpha1.SLO{Indicator: ratio, GroupBy: []string{"route", "pod"}},
			warning: "spec.slos[0].groupBy[1]: pod changes with every restart"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := admission.Review(profile(tt.slo), render.Options{})
			if tt.refusal == "" && len(v.Errors) > 0 {
				t.Fatalf("refused: %v", v.Errors)
			}
			if tt.refusal != "" && (len(v.Errors) != 1 || v.Errors[0].Field != tt.field || !strings.Contains(v.Errors[0].Detail, tt.refusal)) {
				t.Fatalf("errors = %v, want one on %s saying %q", v.Errors, tt.field, tt.refusal)
			}
			if got := strings.Join(v.Warnings, "; "); (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}
