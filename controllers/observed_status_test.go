package controllers

import (
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/observe"
)

func inputsProfile() *v1alpha1.ReliabilityProfile {
	rp := profileAt(3, v1alpha1.ModeEnforce)
	rp.Namespace = "shop"
	rp.Spec.SLOs = []v1alpha1.SLO{
		{Name: "availability", Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{
			Errors: `http_requests_total{job="api",code=~"5.."}`, Total: `http_requests_total{job="api"}`}}},
		{Name: "latency", Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{
			Histogram: `http_request_duration_seconds{job="api",namespace="edge"}`, Threshold: "0.3"}}},
	}
	return rp
}

func TestSetSLOInputsCondition(t *testing.T) {
	tests := []struct {
		name     string
		obs      observe.Observation
		status   metav1.ConditionStatus
		reason   string
		messages []string
	}{
		{"no input alert: every input is present", observe.Observation{}, metav1.ConditionTrue, v1alpha1.InputsPresentReason, nil},
		{"an absent selector is quoted as written, with the namespace it is limited to", observe.Observation{InputAlerts: []observe.InputAlert{
			{Alert: observe.InputAbsentAlert, SLO: "availability", Field: "spec.slos[0].indicator.ratio.total", Firing: true},
		}}, metav1.ConditionFalse, v1alpha1.InputAbsentReason, []string{
			`spec.slos[0].indicator.ratio.total: http_requests_total{job="api"} (limited to namespace shop) matches no series in Prometheus; ` +
				`if the metric has no namespace label, write namespace="" in the selector`,
		}},
		{"a pending alert counts, and a selector that names its namespace is not said to be limited", observe.Observation{InputAlerts: []observe.InputAlert{
			{Alert: observe.InputAbsentAlert, SLO: "latency", Field: "spec.slos[1].indicator.latency.histogram"},
			{Alert: observe.ThresholdNotABucketAlert, SLO: "latency", Field: "spec.slos[1].indicator.latency.threshold", Firing: true},
		}}, metav1.ConditionFalse, v1alpha1.InputAbsentReason, []string{
			`spec.slos[1].indicator.latency.histogram: http_request_duration_seconds{job="api",namespace="edge"} matches no series in Prometheus; ` +
				`if the metric has no namespace label, write namespace="" in the selector (pending)`,
			`spec.slos[1].indicator.latency.threshold: 0.3 is not a bucket boundary of the classic histogram http_request_duration_seconds{job="api",namespace="edge"}: ` +
				`no http_request_duration_seconds_bucket series has le="0.3"`,
		}},
		{"a threshold alone gives its own reason", observe.Observation{InputAlerts: []observe.InputAlert{
			{Alert: observe.ThresholdNotABucketAlert, SLO: "latency", Field: "spec.slos[1].indicator.latency.threshold", Firing: true},
		}}, metav1.ConditionFalse, v1alpha1.ThresholdNotABucketReason, []string{"is not a bucket boundary"}},
		{"an unreadable Prometheus is Unknown", observe.Observation{Err: "connection refused"}, metav1.ConditionUnknown,
			v1alpha1.PrometheusUnreachableReason, []string{"connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := inputsProfile()
			setSLOInputsCondition(rp, tt.obs, t0)
			wantCondition(t, rp, v1alpha1.SLOInputsCondition, tt.status, tt.reason)
			c := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.SLOInputsCondition)
			for _, m := range tt.messages {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q\nwant it to contain %q", c.Message, m)
				}
			}
		})
	}
}

func TestGroupedSLOsReportTheirWorstGroupAndTheBound(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	rp := profileAt(1, v1alpha1.ModeEnforce)
	rp.Spec.SLOs = []v1alpha1.SLO{
		{Name: "availability", GroupBy: []string{"route"}, MaxGroups: ptr.To(int32(2))},
		{Name: "latency", GroupBy: []string{"route", "method"}},
	}
	setObservedStatus(rp, observe.Observation{At: t0.Time, SLOs: map[string]observe.SLOValues{
		"availability": {BudgetRemaining: f(0.4), SLI: f(0.97), BurnRate1h: f(2), Groups: 3, WorstGroup: "route=/pay"},
		"latency":      {BudgetRemaining: f(0.9), Groups: 100, WorstGroup: "route=/pay,method=POST"},
	}})
	a, l := rp.Status.SLOs[0], rp.Status.SLOs[1]
	if a.Groups == nil || *a.Groups != 3 || a.WorstGroup != "route=/pay" || a.ErrorBudgetRemaining != "40.0%" ||
		!strings.Contains(a.Message, "Prometheus reports 3 groups by route, more than maxGroups (2)") {
		t.Errorf("availability: %+v", a)
	}
	if l.Groups == nil || *l.Groups != 100 || l.WorstGroup != "route=/pay,method=POST" || l.Message != "" {
		t.Errorf("latency, at the default bound of 100: %+v", l)
	}
}

func TestSetGameDaysStatus(t *testing.T) {
	rp := profileAt(2, v1alpha1.ModeEnforce)
	rp.Spec.GameDays = &v1alpha1.GameDaySpec{Held: []v1alpha1.GameDay{
		{Name: "db-failover", Start: "2026-11-12T14:00:00Z", End: "2026-11-12T16:00:00Z"},
		{Name: "dns", Start: "2026-11-20T14:00:00+01:00", End: "2026-11-20T15:00:00+01:00"},
	}}
	ttfp := 4*time.Minute + 30*time.Second
	measured := observe.Observation{At: t0.Time, GameDays: []observe.GameDayImpact{
		{Name: "db-failover", Window: "2026-11-12T14:00:00Z/2026-11-12T16:00:00Z", MeasuredAt: t0.Time,
			BudgetSpent: map[string]float64{"latency": 0.001, "availability": 0.0347222},
			AlertsFired: []string{"ErrorBudgetBurn{burnrate_tier=page-fast,severity=page,slo=availability}"}, TimeToFirstPage: &ttfp},
		{Name: "dns", Window: "2026-11-20T13:00:00Z/2026-11-20T14:00:00Z", Message: "Not measured yet: at most 20 game days are measured per poll."},
	}}
	setObservedStatus(rp, measured)
	want := []v1alpha1.GameDayStatus{
		{Name: "db-failover", Window: "2026-11-12T14:00:00Z/2026-11-12T16:00:00Z", MeasuredAt: &t0,
			SLOs:        []v1alpha1.GameDaySLOImpact{{Name: "availability", ErrorBudgetSpent: "3.47%"}, {Name: "latency", ErrorBudgetSpent: "0.10%"}},
			AlertsFired: []string{"ErrorBudgetBurn{burnrate_tier=page-fast,severity=page,slo=availability}"}, TimeToFirstPage: "4m30s"},
		{Name: "dns", Window: "2026-11-20T13:00:00Z/2026-11-20T14:00:00Z", Message: "Not measured yet: at most 20 game days are measured per poll."},
	}
	if !equality.Semantic.DeepEqual(rp.Status.GameDays, want) {
		t.Fatalf("status.gameDays =\n%+v\nwant\n%+v", rp.Status.GameDays, want)
	}

	t.Run("a measured game day is kept when the observer did not read it again, or could not read Prometheus", func(t *testing.T) {
		for _, obs := range []observe.Observation{
			{At: t1.Time, GameDays: []observe.GameDayImpact{{Name: "db-failover", Window: want[0].Window, Kept: true}}},
			{At: t1.Time, Err: "connection refused"},
		} {
			setObservedStatus(rp, obs)
			if !equality.Semantic.DeepEqual(rp.Status.GameDays[0], want[0]) {
				t.Errorf("db-failover = %+v, want it kept", rp.Status.GameDays[0])
			}
		}
		if m := rp.Status.GameDays[1].Message; !strings.Contains(m, "Prometheus could not be read: connection refused") {
			t.Errorf("dns: %q", m)
		}
	})
	t.Run("a changed window is measured again, and a game day gone from the spec goes from the status", func(t *testing.T) {
		rp.Spec.GameDays.Held = rp.Spec.GameDays.Held[:1]
		rp.Spec.GameDays.Held[0].End = "2026-11-12T17:00:00Z"
		setObservedStatus(rp, observe.Observation{At: t1.Time})
		if got := rp.Status.GameDays; len(got) != 1 || got[0].MeasuredAt != nil || got[0].Window != "2026-11-12T14:00:00Z/2026-11-12T17:00:00Z" {
			t.Errorf("status.gameDays = %+v, want db-failover's new window, not measured yet", got)
		}
	})
	t.Run("without spec.gameDays there is nothing to report", func(t *testing.T) {
		rp.Spec.GameDays = nil
		setObservedStatus(rp, observe.Observation{At: t1.Time})
		if rp.Status.GameDays != nil {
			t.Errorf("status.gameDays = %+v", rp.Status.GameDays)
		}
	})
}
