package controllers

import (
	"maps"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
)

// A replica that does not write Loki's ConfigMap (sharding) reports as enforced the profiles whose entry
// the stored file holds, not none of them while the writer catches up.
func TestEnforcedInTellsTheProfilesWhoseEntryIsStored(t *testing.T) {
	a := v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "a"}, Spec: v1alpha1.ReliabilityProfileSpec{Service: "a", Tier: v1alpha1.TierCritical}}
	b := v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "b"}, Spec: v1alpha1.ReliabilityProfileSpec{Service: "b", Tier: v1alpha1.TierNonCritical}}
	stored, err := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{a}, "fake")
	if err != nil {
		t.Fatal(err)
	}
	bCritical := *b.DeepCopy()
	bCritical.Spec.Tier = v1alpha1.TierCritical
	for _, tc := range []struct {
		name    string
		desired []v1alpha1.ReliabilityProfile
		want    map[string]bool
	}{
		{"a new profile the writer has not written yet", []v1alpha1.ReliabilityProfile{a, b}, map[string]bool{logs.StreamSelector(&a): true}},
		{"the stored file as it should be", []v1alpha1.ReliabilityProfile{a}, map[string]bool{logs.StreamSelector(&a): true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desired, err := logs.LokiOverrides(tc.desired, "fake")
			if err != nil {
				t.Fatal(err)
			}
			got, err := enforcedIn(string(stored), string(desired), "fake", selectors(tc.desired))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("enforced %v, want %v", got, tc.want)
			}
		})
	}
	// An entry stored with another period is not this profile's retention.
	withB, err := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{a, b}, "fake")
	if err != nil {
		t.Fatal(err)
	}
	desired, err := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{a, bCritical}, "fake")
	if err != nil {
		t.Fatal(err)
	}
	got, err := enforcedIn(string(withB), string(desired), "fake", selectors([]v1alpha1.ReliabilityProfile{a, bCritical}))
	if err != nil {
		t.Fatal(err)
	}
	if got[logs.StreamSelector(&b)] || !got[logs.StreamSelector(&a)] {
		t.Errorf("enforced %v, want only a's: b's stored period is not the one its tier now asks for", got)
	}
}
