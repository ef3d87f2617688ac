package observe

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

type countingAPI struct {
	promv1.API
	queries atomic.Int32
}

func (c *countingAPI) Query(ctx context.Context, q string, ts time.Time, opts ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error) {
	c.queries.Add(1)
	return c.API.Query(ctx, q, ts, opts...)
}

// A game day is measured in one poll and carried over by the next without a query, before the status that
// keeps it is written: between two polls the reconcile may not have run yet.
func TestAGameDayMeasuredInOnePollIsNotReadAgainInTheNext(t *testing.T) {
	prom := testenv.StartPrometheus(t, "", nil)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{v1alpha1.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	rp := &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{Service: "checkout", Tier: v1alpha1.TierNonCritical,
			GameDays: &v1alpha1.GameDaySpec{Held: []v1alpha1.GameDay{{Name: "dns", Start: "2026-01-01T10:00:00Z", End: "2026-01-01T11:00:00Z"}}}}}
	o, err := New(prom.URL, time.Minute, fake.NewClientBuilder().WithScheme(scheme).WithObjects(rp).Build())
	if err != nil {
		t.Fatal(err)
	}
	api := &countingAPI{API: o.API}
	o.API, o.Changed = api, make(chan event.GenericEvent, 4)
	o.poll(context.Background())
	first := api.queries.Load()
	obs, _ := o.For(client.ObjectKeyFromObject(rp))
	if len(obs.GameDays) != 1 || !obs.GameDays[0].Measured() {
		t.Fatalf("first poll: %+v, want dns measured", obs.GameDays)
	}
	api.queries.Store(0)
	o.poll(context.Background())
	if second := api.queries.Load(); second != first-2 {
		t.Errorf("the second poll sent %d queries, the first %d: want two fewer, none for the measured game day", second, first)
	}
	if len(o.Changed) != 1 {
		t.Errorf("%d reconciles asked, want one: the second poll found the same", len(o.Changed))
	}
}
