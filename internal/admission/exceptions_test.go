package admission_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/admission"
)

func TestExceptionsLastAtMostHalfAYear(t *testing.T) {
	today := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	withException := func(expires string) *v1alpha1.ReliabilityProfile {
		rp := &v1alpha1.ReliabilityProfile{}
		rp.Spec.Exceptions = []v1alpha1.Exception{{Rule: "O-5", Reason: "kept for the regulator", Expires: expires}}
		return rp
	}
	tests := []struct {
		name, expires string
		old           *v1alpha1.ReliabilityProfile
		refused       bool
		warning       string
	}{
		{"183 days ahead is the longest allowed", "2027-06-02", nil, false, ""},
		{"184 days ahead is refused", "2027-06-03", nil, true, ""},
		{"forever is refused", "9999-12-31", nil, true, ""},
		{"an expired exception is allowed with a warning", "2026-11-30", nil, false, "expired on 2026-11-30"},
		{"an exception the old version had is not checked again", "9999-12-31", withException("9999-12-31"), false, ""},
		{"a changed expiry is checked", "9999-12-31", withException("2027-01-31"), true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := admission.ReviewExceptions(withException(tt.expires), tt.old, today)
			if refused := len(v.Errors) > 0; refused != tt.refused {
				t.Fatalf("refused = %v (%v), want %v", refused, v.Errors, tt.refused)
			}
			if tt.refused && (v.Errors[0].Field != "spec.exceptions[0].expires" || !strings.Contains(v.Errors[0].Detail, "until 2027-06-02") ||
				!strings.Contains(v.Errors[0].Detail, "F-3")) {
				t.Errorf("refusal %v, want the field, the latest date and the rule", v.Errors[0])
			}
			if got := strings.Join(v.Warnings, "; "); (tt.warning == "") != (got == "") || !strings.Contains(got, tt.warning) {
				t.Errorf("warnings %q, want %q", got, tt.warning)
			}
		})
	}
}
