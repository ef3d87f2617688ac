package testenv

import (
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Sample is one series of a metric in this process's controller-runtime registry: its labels and value
// (a gauge's or a counter's).
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Samples gathers the series of one metric of the registry the operator's controllers report to.
func Samples(name string) ([]Sample, error) {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	var out []Sample
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			s := Sample{Labels: map[string]string{}, Value: m.GetGauge().GetValue() + m.GetCounter().GetValue()}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// ReconcileCount is how many reconciles of profiles have finished in this process, by
// controller_runtime_reconcile_total of the reliabilityprofile controller.
func ReconcileCount(t testing.TB) float64 {
	t.Helper()
	samples, err := Samples("controller_runtime_reconcile_total")
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, s := range samples {
		if s.Labels["controller"] == "reliabilityprofile" {
			total += s.Value
		}
	}
	return total
}
