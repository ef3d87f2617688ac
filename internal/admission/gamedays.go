package admission

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// clockSkew is how far in the future a held game day may start, for clocks that disagree a little.
const clockSkew = 5 * time.Minute

// reviewGameDays refuses a held game day that starts after the review: held means held, and a future one
// would push GameDayOverdue's due date past its own end plus the cadence, keeping the alert silent and R-3
// passing for a game day nobody ran. The CRD cannot know the time. A game day the previous version already
// had, with the same window, is not checked again.
func reviewGameDays(rp, old *v1alpha1.ReliabilityProfile, now time.Time) Verdict {
	var v Verdict
	if rp.Spec.GameDays == nil {
		return v
	}
	for i, h := range rp.Spec.GameDays.Held {
		start, err := time.Parse(time.RFC3339, h.Start)
		if err != nil {
			continue // the CRD refuses it
		}
		if heldBefore(old, h) {
			continue
		}
		if start.After(now.Add(clockSkew)) {
			v.Errors = append(v.Errors, field.Invalid(field.NewPath("spec", "gameDays", "held").Index(i).Child("start"), h.Start, fmt.Sprintf(
				"game day %s starts in the future (now is %s): list a game day once it is held, so that GameDayOverdue and R-3 count only game days that happened",
				h.Name, now.UTC().Format(time.RFC3339))))
		}
	}
	return v
}

func heldBefore(old *v1alpha1.ReliabilityProfile, h v1alpha1.GameDay) bool {
	if old == nil || old.Spec.GameDays == nil {
		return false
	}
	for _, o := range old.Spec.GameDays.Held {
		if o.Name == h.Name && o.Start == h.Start && o.End == h.End {
			return true
		}
	}
	return false
}
