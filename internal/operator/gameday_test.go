package operator_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestAHeldGameDayIsMeasuredIntoStatus runs the operator with --prometheus-url against a real Prometheus
// that holds the recorded 5m rates of a 2-hour game day with a 30-minute outage (half the requests failed),
// the page it raised 34 minutes in, and a pending SLOInputAbsent alert of the profile's total selector, all
// backfilled every minute. With a 99% objective over 30 days the game day spent 3.47% of the budget.
func TestAHeldGameDayIsMeasuredIntoStatus(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	now := time.Now().Truncate(time.Minute)
	start, end := now.Add(-3*time.Hour), now.Add(-time.Hour)
	var b strings.Builder
	every := func(s string, value func(time.Time) (float64, bool)) {
		for ts := start.Add(-time.Hour); !ts.After(now.Add(-time.Minute)); ts = ts.Add(time.Minute) {
			if v, ok := value(ts); ok {
				fmt.Fprintf(&b, "%s %g %d\n", s, v, ts.Unix())
			}
		}
	}
	in := func(from, to time.Duration) func(time.Time) bool {
		return func(ts time.Time) bool { return !ts.Before(start.Add(from)) && ts.Before(start.Add(to)) }
	}
	lbls := `namespace="shop",service="checkout",slo="availability",tier="non-critical"`
	outage := in(30*time.Minute, 60*time.Minute)
	every("slo:sli_errors:rate5m{"+lbls+"}", func(ts time.Time) (float64, bool) {
		if outage(ts) {
			return 5, true
		}
		return 0, true
	})
	every("slo:sli_requests:rate5m{"+lbls+"}", func(time.Time) (float64, bool) { return 10, true })
	paging := in(34*time.Minute, 61*time.Minute)
	every(`ALERTS{alertname="ErrorBudgetBurn",alertstate="firing",burnrate_tier="page-fast",severity="page",`+lbls+`}`,
		func(ts time.Time) (float64, bool) { return 1, paging(ts) })
	every(`ALERTS{alertname="SLOInputAbsent",alertstate="pending",severity="ticket",field="spec.slos[0].indicator.ratio.total",`+lbls+`}`,
		func(ts time.Time) (float64, bool) { return 1, ts.After(now.Add(-5 * time.Minute)) })
	b.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, b.String(), nil)

	ctx, c := startOperator(t, cfg, operator.Options{PrometheusURL: prom.URL, PrometheusInterval: time.Second})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	rp := sloProfile("checkout")
	rp.Spec.SLOs[0].Objective = "99"
	rp.Spec.GameDays = &v1alpha1.GameDaySpec{Held: []v1alpha1.GameDay{{Name: "db-failover",
		Start: start.UTC().Format(time.RFC3339), End: end.UTC().Format(time.RFC3339), ActionsURL: "https://wiki.example.com/gamedays/db"}}}
	if err := c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		got := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rp), got); err != nil {
			t.Fatal(err)
		}
		inputs := meta.FindStatusCondition(got.Status.Conditions, v1alpha1.SLOInputsCondition)
		if g := got.Status.GameDays; len(g) == 1 && g[0].MeasuredAt != nil && inputs != nil && inputs.Status == metav1.ConditionFalse {
			t.Logf("status.gameDays = %+v", g)
			want := "ErrorBudgetBurn{burnrate_tier=page-fast,severity=page,slo=availability}"
			if len(g[0].SLOs) != 1 || g[0].SLOs[0].ErrorBudgetSpent != "3.47%" || g[0].TimeToFirstPage != "34m" ||
				len(g[0].AlertsFired) != 1 || g[0].AlertsFired[0] != want || g[0].Message != "" {
				t.Errorf("status.gameDays[0] = %+v, want 3.47%% spent, first page after 34m, %s fired", g[0], want)
			}
			if inputs.Reason != v1alpha1.InputAbsentReason || inputs.ObservedGeneration != got.Generation ||
				!strings.Contains(inputs.Message, `spec.slos[0].indicator.ratio.total: http_requests_total{job="checkout"} (limited to namespace shop) matches no series`) {
				t.Errorf("SLOInputs = %+v", inputs)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.gameDays %+v, SLOInputs %+v within 45s; want db-failover measured and SLOInputs False", got.Status.GameDays, inputs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
