package observe_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/observe"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

func profile(name, service string) v1alpha1.ReliabilityProfile {
	return v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: service, Tier: v1alpha1.TierNonCritical,
			SLOs: []v1alpha1.SLO{{
				Name: "availability", Objective: "95", Window: "30d",
				Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{
					Errors: `http_requests_total{job="` + service + `",code=~"5.."}`,
					Total:  `http_requests_total{job="` + service + `"}`,
				}},
			}},
		},
	}
}

// ruleFile is the profile's PrometheusRule as Prometheus reads it from disk, and what the observer knows of
// the live rule.
func ruleFile(t *testing.T, rp *v1alpha1.ReliabilityProfile, uid string) (string, observe.Rule) {
	t.Helper()
	// Evaluated every second, not every 5 minutes: the test reads the budget within seconds.
	rule, err := render.PrometheusRule(rp, render.Options{SLOWindowInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	live := observe.Rule{UID: uid}
	for _, g := range rule.Spec.Groups {
		live.Groups = append(live.Groups, g.Name)
	}
	return string(b), live
}

// TestTheObserverReadsRealNumbersFromARealPrometheus backfills two hours of traffic with 1% errors (10
// requests a second), loads the rendered rules of one profile into a real Prometheus, and reads the SLO back:
// with a 95% objective the budget is 5%, so 1% errors leave 80% of it, an SLI of 99% and a burn rate of 0.2.
// A second profile's rules are not loaded, as when the Prometheus ruleSelector does not match them, though a
// file whose name starts like theirs is; a third profile has no PrometheusRule yet.
func TestTheObserverReadsRealNumbersFromARealPrometheus(t *testing.T) {
	loaded, notLoaded, noRule := profile("checkout", "checkout"), profile("search", "search"), profile("cart", "cart")
	lookalike := profile("search-canary", "search")
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	data := strings.TrimSuffix(testenv.RequestTraffic("checkout", "shop", end, 10, 0.01), "# EOF\n")
	// O-7 and O-8: checkout's two targets are up and expose its version metric; one of search's two is
	// down and search_build_info, which it declares, has no series.
	data += gaugeSamples(end, map[string]float64{
		`up{namespace="shop",service="checkout",instance="10.0.0.1:8067"}`: 1,
		`up{namespace="shop",service="checkout",instance="10.0.0.2:8067"}`: 1,
		`up{namespace="shop",service="search",instance="10.0.0.3:8067"}`:   1,
		`up{namespace="shop",service="search",instance="10.0.0.4:8067"}`:   0,
	}) + gaugeSamples(end, map[string]float64{
		`checkout_build_info{namespace="shop",service="checkout",version="1.4.2"}`: 1,
		// The same metric name of another namespace says nothing of shop's checkout.
		`search_build_info{namespace="other",service="search",version="0.9"}`: 1,
	}) + "# EOF\n"
	loaded.Spec.Metrics.VersionMetric, notLoaded.Spec.Metrics.VersionMetric = "checkout_build_info", "search_build_info"
	loadedFile, loadedRule := ruleFile(t, &loaded, "1234")
	lookalikeFile, _ := ruleFile(t, &lookalike, "9abc")
	_, notLoadedRule := ruleFile(t, &notLoaded, "5678")
	prom := testenv.StartPrometheus(t, data, map[string]string{
		"shop-checkout-1234.yaml": loadedFile, "shop-search-canary-9abc.yaml": lookalikeFile,
	})
	rules := map[client.ObjectKey]observe.Rule{
		client.ObjectKeyFromObject(&loaded): loadedRule, client.ObjectKeyFromObject(&notLoaded): notLoadedRule,
	}

	o, err := observe.New(prom.URL, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	var obs map[client.ObjectKey]observe.Observation
	deadline := time.Now().Add(30 * time.Second)
	for {
		obs = o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{loaded, notLoaded, noRule}, rules, time.Now())
		if v := obs[client.ObjectKeyFromObject(&loaded)].SLOs["availability"]; v.BudgetRemaining != nil && v.BurnRate1h != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus gave no SLO values within 30s: %+v", obs)
		}
		time.Sleep(500 * time.Millisecond)
	}

	got := obs[client.ObjectKeyFromObject(&loaded)]
	if got.Err != "" || len(got.MissingGroups) != 0 {
		t.Errorf("loaded profile: err %q, missing groups %v", got.Err, got.MissingGroups)
	}
	v := got.SLOs["availability"]
	for _, c := range []struct {
		name      string
		got       *float64
		want, tol float64
	}{
		{"error budget remaining", v.BudgetRemaining, 0.80, 0.01},
		{"SLI", v.SLI, 0.99, 0.0005},
		{"1h burn rate", v.BurnRate1h, 0.20, 0.01},
	} {
		if c.got == nil || math.Abs(*c.got-c.want) > c.tol {
			t.Errorf("%s = %v, want %.4f ± %.4f", c.name, deref(c.got), c.want, c.tol)
		} else {
			t.Logf("%s = %.4f (want %.4f)", c.name, *c.got, c.want)
		}
	}

	missing := obs[client.ObjectKeyFromObject(&notLoaded)]
	if strings.Join(missing.MissingGroups, ",") != "search-slo-availability,search-slo-availability-window,search-manifesto" {
		t.Errorf("not-loaded profile: missing groups %v, want all of its groups", missing.MissingGroups)
	}
	if none := obs[client.ObjectKeyFromObject(&noRule)]; !none.NoRule || len(none.MissingGroups) != 0 {
		t.Errorf("profile without a PrometheusRule: %+v, want NoRule", none)
	}

	if want := (observe.Targets{Up: 2, Total: 2}); got.Targets != want || !got.VersionMetricSeries {
		t.Errorf("checkout: targets %+v and version metric series %v, want %+v and true", got.Targets, got.VersionMetricSeries, want)
	}
	if want := (observe.Targets{Up: 1, Total: 2}); missing.Targets != want || missing.VersionMetricSeries {
		t.Errorf("search: targets %+v and version metric series %v, want %+v and false", missing.Targets, missing.VersionMetricSeries, want)
	}
	if none := obs[client.ObjectKeyFromObject(&noRule)]; none.Targets != (observe.Targets{}) || none.VersionMetricSeries {
		t.Errorf("cart, never scraped: targets %+v, version metric series %v, want none", none.Targets, none.VersionMetricSeries)
	}
}

// gaugeSamples writes the last ten minutes up to end of gauges that keep one value, every 15 seconds, as
// OpenMetrics (one metric family, its series one after the other).
func gaugeSamples(end time.Time, series map[string]float64) string {
	var b strings.Builder
	for _, s := range slices.Sorted(maps.Keys(series)) {
		for ts := end.Add(-10 * time.Minute); !ts.After(end); ts = ts.Add(15 * time.Second) {
			fmt.Fprintf(&b, "%s %g %d\n", s, series[s], ts.Unix())
		}
	}
	return b.String()
}

func TestAnUnreachablePrometheusIsReportedForEveryProfile(t *testing.T) {
	o, err := observe.New("http://127.0.0.1:1", time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	rp := profile("checkout", "checkout")
	obs := o.Observe(context.Background(), []v1alpha1.ReliabilityProfile{rp}, nil, time.Now())[client.ObjectKeyFromObject(&rp)]
	if !strings.Contains(obs.Err, "connection refused") {
		t.Errorf("Err = %q, want the connection error", obs.Err)
	}
}

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
