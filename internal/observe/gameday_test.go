package observe_test

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/observe"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// countingAPI counts the instant queries the observer sends.
type countingAPI struct {
	promv1.API
	queries atomic.Int32
}

func (c *countingAPI) Query(ctx context.Context, q string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error) {
	c.queries.Add(1)
	return c.API.Query(ctx, q, ts, opts...)
}

// series writes OpenMetrics samples every step from start to end (both included) of series whose value is
// value(t), or that has no sample at t when value returns NaN. Series of one metric name must be written
// one after the other.
func series(b *strings.Builder, s string, start, end time.Time, step time.Duration, value func(time.Time) float64) {
	for ts := start; !ts.After(end); ts = ts.Add(step) {
		if v := value(ts); !math.IsNaN(v) {
			fmt.Fprintf(b, "%s %g %d\n", s, v, ts.Unix())
		}
	}
}

func between(from, to time.Time, in, out float64) func(time.Time) float64 {
	return func(t time.Time) float64 {
		if !t.Before(from) && t.Before(to) {
			return in
		}
		return out
	}
}

// TestTheObserverMeasuresAGameDayFromARealPrometheus backfills the recorded 5m rates of a 2-hour game day
// with a 30-minute outage (half the requests fail) and the ALERTS series Prometheus wrote for it, every
// minute: the rules that record these series are tested with promtool in internal/slo; what is measured
// here is the observer's reading of them. A 99% SLO over 30 days has a budget of 1%: the window's error
// ratio is 30 × 5 / (120 × 10) = 12.5%, a burn rate of 12.5, over 2h of 30d (1/360): 3.47% of the budget.
// The page fired 34 minutes after the start.
func TestTheObserverMeasuresAGameDayFromARealPrometheus(t *testing.T) {
	now := time.Now().Truncate(time.Minute)
	start, end := now.Add(-3*time.Hour), now.Add(-1*time.Hour)
	from, to := start.Add(-time.Hour), now.Add(-30*time.Minute)
	outage := between(start.Add(30*time.Minute), start.Add(60*time.Minute), 5, 0)
	lbls := `namespace="shop",service="checkout",slo="availability",tier="critical"`
	var b strings.Builder
	series(&b, "slo:sli_errors:rate5m{"+lbls+"}", from, to, time.Minute, outage)
	series(&b, "slo:sli_requests:rate5m{"+lbls+"}", from, to, time.Minute, func(time.Time) float64 { return 10 })
	nan := math.NaN()
	alert := func(name, state, extra string, on func(time.Time) float64) {
		series(&b, fmt.Sprintf(`ALERTS{alertname=%q,alertstate=%q,namespace="shop",service="checkout",tier="critical"%s}`, name, state, extra),
			from, to, time.Minute, on)
	}
	page := `,slo="availability",burnrate_tier="page-fast",severity="page",long_window="1h",short_window="5m",team="payments"`
	alert("ErrorBudgetBurn", "pending", page, between(start.Add(32*time.Minute), start.Add(34*time.Minute), 1, nan))
	alert("ErrorBudgetBurn", "firing", page, between(start.Add(34*time.Minute), start.Add(61*time.Minute), 1, nan))
	alert("ErrorBudgetBurn", "firing", `,slo="availability",burnrate_tier="ticket-fast",severity="ticket"`,
		between(start.Add(50*time.Minute), end.Add(30*time.Minute), 1, nan))
	// A page under the ReliabilityPolicy's page severity, critical, is checkout's first (see below).
	alert("TargetDown", "firing", `,severity="critical"`, between(start.Add(20*time.Minute), start.Add(25*time.Minute), 1, nan))
	// About the record, not the service: left out.
	alert("GameDayOverdue", "firing", `,severity="ticket"`, func(time.Time) float64 { return 1 })
	// A page of another service in the window is not checkout's.
	series(&b, `ALERTS{alertname="TargetDown",alertstate="firing",namespace="shop",service="cart",severity="page"}`,
		from, to, time.Minute, between(start.Add(5*time.Minute), start.Add(10*time.Minute), 1, nan))
	b.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, b.String(), nil)

	rp := profile("checkout", "checkout")
	rp.Spec.Tier = v1alpha1.TierCritical
	rp.Spec.SLOs[0].Objective = "99"
	rp.Spec.Routing = &v1alpha1.Routing{Labels: map[string]string{"team": "payments"}}
	rp.Spec.GameDays = &v1alpha1.GameDaySpec{Cadence: "30d", Held: []v1alpha1.GameDay{
		{Name: "db-failover", Start: start.Format(time.RFC3339), End: end.Format(time.RFC3339)},
		{Name: "long-ago", Start: now.Add(-20 * 24 * time.Hour).Format(time.RFC3339), End: now.Add(-20*24*time.Hour + time.Hour).Format(time.RFC3339)},
		{Name: "today", Start: now.Add(-time.Hour).Format(time.RFC3339), End: now.Add(time.Hour).Format(time.RFC3339)},
	}}
	o, err := observe.New(prom.URL, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	api := &countingAPI{API: o.API}
	o.API = api
	obs := o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{rp}, nil, now)[client.ObjectKeyFromObject(&rp)]
	if obs.Err != "" || len(obs.GameDays) != 3 {
		t.Fatalf("err %q, game days %+v", obs.Err, obs.GameDays)
	}
	g := obs.GameDays[0]
	if !g.Measured() || g.Message != "" || g.Window != start.UTC().Format(time.RFC3339)+"/"+end.UTC().Format(time.RFC3339) {
		t.Errorf("db-failover: %+v, want measured without a message", g)
	}
	if spent, want := g.BudgetSpent["availability"], 0.125/0.01*2/720; math.Abs(spent-want) > 1e-9 {
		t.Errorf("budget spent %v, want %v", spent, want)
	} else {
		t.Logf("budget spent %.4f%%", spent*100)
	}
	wantAlerts := []string{
		"ErrorBudgetBurn{burnrate_tier=page-fast,severity=page,slo=availability}",
		"ErrorBudgetBurn{burnrate_tier=ticket-fast,severity=ticket,slo=availability}",
		"TargetDown{severity=critical}",
	}
	if !sort.StringsAreSorted(g.AlertsFired) || strings.Join(g.AlertsFired, " ") != strings.Join(wantAlerts, " ") {
		t.Errorf("alerts fired %v, want %v", g.AlertsFired, wantAlerts)
	}
	if g.TimeToFirstPage == nil || *g.TimeToFirstPage != 34*time.Minute {
		t.Errorf("time to first page %v, want 34m: without a policy, severity critical does not page", g.TimeToFirstPage)
	}
	if old := obs.GameDays[1]; !old.Measured() || len(old.BudgetSpent) != 0 || !strings.Contains(old.Message, "no requests of the SLO(s) availability") {
		t.Errorf("a game day older than the data: %+v, want it measured with a message that Prometheus has no data", old)
	}
	if today := obs.GameDays[2]; today.Measured() || !strings.Contains(today.Message, "the window ends at") {
		t.Errorf("a game day still running: %+v, want it not measured, saying when it will be", today)
	}
	// Six queries for every poll, and two per game day measured.
	if n := api.queries.Load(); n != 6+2*2 {
		t.Errorf("%d queries, want 6 and 2 for each of the two game days measured", n)
	}

	// Under a ReliabilityPolicy whose page severity is critical, the TargetDown alert 20 minutes in pages.
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	o.Policies = fake.NewClientBuilder().WithScheme(scheme).WithObjects(&v1alpha1.ReliabilityPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName},
		Spec:       v1alpha1.ReliabilityPolicySpec{Alerting: &v1alpha1.AlertingPolicy{PageSeverity: "critical"}},
	}).Build()
	obs = o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{rp}, nil, now)[client.ObjectKeyFromObject(&rp)]
	if g := obs.GameDays[0]; g.TimeToFirstPage == nil || *g.TimeToFirstPage != 20*time.Minute {
		t.Errorf("time to first page under the policy %v, want 20m", g.TimeToFirstPage)
	}
	o.Policies = nil

	// Once the status holds the measurement, nothing is read again; a window that changed is measured again.
	api.queries.Store(0)
	rp.Status.GameDays = []v1alpha1.GameDayStatus{
		{Name: "db-failover", Window: g.Window, MeasuredAt: ptr.To(metav1.NewTime(now))},
		{Name: "long-ago", Window: "2000-01-01T00:00:00Z/2000-01-01T01:00:00Z", MeasuredAt: ptr.To(metav1.NewTime(now))},
	}
	obs = o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{rp}, nil, now)[client.ObjectKeyFromObject(&rp)]
	if kept := obs.GameDays[0]; !kept.Kept || kept.Measured() {
		t.Errorf("db-failover, measured in status: %+v, want it kept", kept)
	}
	if n := api.queries.Load(); n != 6+2 {
		t.Errorf("%d queries, want 6 and 2 for the game day whose window changed", n)
	}
}

// TestTheObserverReadsGroupsInputsAndSlowSeries backfills the series of a grouped SLO whose SLO-window
// series were last evaluated 7 minutes ago (out of an instant query's 5-minute reach, within the 10-minute
// lookback of a 2m --slo-window-interval), and a pending SLOInputAbsent alert of another service.
func TestTheObserverReadsGroupsInputsAndSlowSeries(t *testing.T) {
	now := time.Now().Add(-5 * time.Second).Truncate(time.Second)
	var b strings.Builder
	constant := func(v float64) func(time.Time) float64 { return func(time.Time) float64 { return v } }
	lbls := func(svc, route string) string {
		return fmt.Sprintf(`namespace="shop",service=%q,slo="availability",tier="non-critical",route=%q`, svc, route)
	}
	series(&b, `slo:error_budget:ratio{namespace="shop",service="checkout",slo="availability",tier="non-critical"}`, now.Add(-10*time.Minute), now, 15*time.Second, constant(0.05))
	series(&b, `slo:error_budget:ratio{namespace="shop",service="search",slo="availability",tier="non-critical"}`, now.Add(-10*time.Minute), now, 15*time.Second, constant(0.05))
	for route, v := range map[string]float64{"/cart": 0.9, "/pay": 0.4, "/search": 0.7} {
		series(&b, "slo:error_budget_remaining:ratio{"+lbls("checkout", route)+"}", now.Add(-27*time.Minute), now.Add(-7*time.Minute), 2*time.Minute, constant(v))
	}
	series(&b, `slo:error_budget_remaining:ratio{namespace="shop",service="search",slo="availability",tier="non-critical"}`, now.Add(-27*time.Minute), now.Add(-7*time.Minute), 2*time.Minute, constant(0.5))
	for route, v := range map[string]float64{"/cart": 0.01, "/pay": 0.1, "/search": 0.02} {
		series(&b, "slo:sli_error:ratio_rate1h{"+lbls("checkout", route)+"}", now.Add(-10*time.Minute), now, 15*time.Second, constant(v))
	}
	series(&b, `ALERTS{alertname="SLOInputAbsent",alertstate="pending",namespace="shop",service="search",slo="availability",tier="non-critical",severity="ticket",field="spec.slos[0].indicator.ratio.total"}`,
		now.Add(-3*time.Minute), now, 15*time.Second, constant(1))
	b.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, b.String(), nil)

	grouped, plain := profile("checkout", "checkout"), profile("search", "search")
	grouped.Spec.SLOs[0].GroupBy = []string{"route"}
	o, err := observe.New(prom.URL, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.WindowInterval = 2 * time.Minute
	obs := o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{grouped, plain}, nil, now)
	g := obs[client.ObjectKeyFromObject(&grouped)]
	v := g.SLOs["availability"]
	if v.Groups != 3 || v.WorstGroup != "route=/pay" || v.BudgetRemaining == nil || *v.BudgetRemaining != 0.4 ||
		v.BurnRate1h == nil || math.Abs(*v.BurnRate1h-2) > 1e-9 || v.SLI == nil || math.Abs(*v.SLI-0.97) > 1e-9 {
		t.Errorf("grouped SLO: %d groups, worst %q, budget %v, burn rate %v, SLI %v; want 3, route=/pay, 0.4, 2, 0.97",
			v.Groups, v.WorstGroup, deref(v.BudgetRemaining), deref(v.BurnRate1h), deref(v.SLI))
	}
	if len(g.InputAlerts) != 0 {
		t.Errorf("checkout: input alerts %+v, want none", g.InputAlerts)
	}
	p := obs[client.ObjectKeyFromObject(&plain)]
	if v := p.SLOs["availability"]; v.BudgetRemaining == nil || *v.BudgetRemaining != 0.5 || v.Groups != 0 {
		t.Errorf("search, evaluated 7 minutes ago: %+v, want a budget of 0.5 read through the lookback", v)
	}
	want := []observe.InputAlert{{Alert: "SLOInputAbsent", SLO: "availability", Field: "spec.slos[0].indicator.ratio.total"}}
	if fmt.Sprint(p.InputAlerts) != fmt.Sprint(want) {
		t.Errorf("search: input alerts %+v, want %+v", p.InputAlerts, want)
	}
}
