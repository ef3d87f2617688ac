package observe_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/observe"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// observeUntil polls a real Prometheus until done accepts the profile's observation, for at most 30s.
func observeUntil(t *testing.T, o *observe.Observer, rp v1alpha1.ReliabilityProfile, done func(observe.Observation) bool) observe.Observation {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs := o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{rp}, nil, time.Now())[client.ObjectKeyFromObject(&rp)]
		if done(obs) {
			return obs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such observation within 30s; the last: %+v", obs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestTheRenderedInputAlertsReachTheObserver loads the rendered rules of a profile whose selectors match
// nothing into a real Prometheus, which evaluates them: SLOInputAbsent is pending (it fires after an hour)
// for the field of each SLO's requests, and the observer reads both in its one query.
func TestTheRenderedInputAlertsReachTheObserver(t *testing.T) {
	rp := profile("checkout", "checkout")
	rp.Spec.SLOs = append(rp.Spec.SLOs, v1alpha1.SLO{Name: "latency", Objective: "99", Window: "30d",
		Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: `http_request_duration_seconds{job="checkout"}`, Threshold: "0.3"}}})
	file, _ := ruleFile(t, &rp, "1")
	prom := testenv.StartPrometheus(t, "", map[string]string{"shop-checkout-1.yaml": file})
	o, err := observe.New(prom.URL, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	obs := observeUntil(t, o, rp, func(obs observe.Observation) bool { return len(obs.InputAlerts) >= 2 })
	want := []observe.InputAlert{
		{Alert: observe.InputAbsentAlert, SLO: "availability", Field: "spec.slos[0].indicator.ratio.total"},
		{Alert: observe.InputAbsentAlert, SLO: "latency", Field: "spec.slos[1].indicator.latency.histogram"},
	}
	if fmt.Sprint(obs.InputAlerts) != fmt.Sprint(want) {
		t.Errorf("input alerts %+v, want %+v", obs.InputAlerts, want)
	}
}

// TestAGroupedSLOReportsItsWorstGroupFromTheRenderedRules backfills two hours of traffic of two routes, 1%
// and 3% errors, and loads the rendered rules of an SLO grouped by route (95%, a budget of 5%): /pay is the
// worst group, with 40% of its budget left, a burn rate of 0.6 and an SLI of 97%.
func TestAGroupedSLOReportsItsWorstGroupFromTheRenderedRules(t *testing.T) {
	rp := profile("checkout", "checkout")
	rp.Spec.SLOs[0].GroupBy = []string{"route"}
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	traffic := func(route, code string, perSecond float64) string {
		return testenv.CounterSamples(fmt.Sprintf(`http_requests_total{job="checkout",namespace="shop",route=%q,code=%q}`, route, code),
			end.Add(-2*time.Hour), end, 15*time.Second, func(time.Time) float64 { return perSecond })
	}
	data := traffic("/cart", "200", 9.9) + traffic("/cart", "500", 0.1) + traffic("/pay", "200", 9.7) + traffic("/pay", "500", 0.3) + "# EOF\n"
	file, _ := ruleFile(t, &rp, "1")
	prom := testenv.StartPrometheus(t, data, map[string]string{"shop-checkout-1.yaml": file})
	o, err := observe.New(prom.URL, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	obs := observeUntil(t, o, rp, func(obs observe.Observation) bool {
		v := obs.SLOs["availability"]
		return v.Groups == 2 && v.BudgetRemaining != nil && v.BurnRate1h != nil
	})
	v := obs.SLOs["availability"]
	if v.WorstGroup != "route=/pay" || math.Abs(*v.BudgetRemaining-0.4) > 0.01 || math.Abs(*v.BurnRate1h-0.6) > 0.01 || math.Abs(*v.SLI-0.97) > 0.0005 {
		t.Errorf("worst group %q: budget %v, burn rate %v, SLI %v; want route=/pay, 0.4, 0.6, 0.97",
			v.WorstGroup, deref(v.BudgetRemaining), deref(v.BurnRate1h), deref(v.SLI))
	}
}
