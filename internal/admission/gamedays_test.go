package admission_test

import (
	"strings"
	"testing"
	"time"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/admission"
)

func TestAHeldGameDayCannotStartInTheFuture(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	withGameDay := func(start string) *v1alpha1.ReliabilityProfile {
		rp := &v1alpha1.ReliabilityProfile{}
		rp.Spec.GameDays = &v1alpha1.GameDaySpec{Held: []v1alpha1.GameDay{{Name: "failover", Start: start, End: "2099-01-01T00:00:00Z"}}}
		return rp
	}
	tests := []struct {
		name, start string
		old         *v1alpha1.ReliabilityProfile
		refused     bool
	}{
		{"held yesterday", "2026-12-01T12:00:00Z", nil, false},
		{"starting within the clock skew", "2026-12-02T12:04:00Z", nil, false},
		{"starting tomorrow", "2026-12-03T12:00:00Z", nil, true},
		{"in another offset, still ahead", "2026-12-02T14:30:00+02:00", nil, true},
		{"unchanged from the stored version", "2026-12-03T12:00:00Z", withGameDay("2026-12-03T12:00:00Z"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := admission.ReviewDates(withGameDay(tt.start), tt.old, now)
			if refused := len(v.Errors) > 0; refused != tt.refused {
				t.Fatalf("refused = %v (%v), want %v", refused, v.Errors, tt.refused)
			}
			if tt.refused && (v.Errors[0].Field != "spec.gameDays.held[0].start" || !strings.Contains(v.Errors[0].Detail, "starts in the future")) {
				t.Errorf("refusal %v, want the field and why", v.Errors[0])
			}
		})
	}
}
