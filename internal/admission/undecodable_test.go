package admission_test

import (
	"encoding/json"
	"testing"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/admission"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// TestAValueTheTypesCannotHoldIsRefusedNamingItsField: under a CRD that lets 99999999999 through, the review
// refuses the profile for that field alone, not for the empty spec left in its place.
func TestAValueTheTypesCannotHoldIsRefusedNamingItsField(t *testing.T) {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := json.Unmarshal([]byte(`{"metadata":{"name":"checkout","namespace":"shop"},"spec":{"service":"checkout","tier":"non-critical",
		"selector":{"matchLabels":{"app":"checkout"}},"disruption":{"maxUnavailable":99999999999}}}`), rp); err != nil {
		t.Fatal(err)
	}
	v := admission.Review(rp, render.Options{})
	if len(v.Errors) != 1 || v.Errors[0].Field != "spec.disruption.maxUnavailable" {
		t.Fatalf("errors = %v, want one, for spec.disruption.maxUnavailable", v.Errors)
	}
	if got, want := v.Denial(), "spec.disruption.maxUnavailable: Invalid value: the stored number 99999999999 cannot be read as int32"; got != want {
		t.Errorf("denial = %q, want %q", got, want)
	}
}
