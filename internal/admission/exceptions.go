package admission

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// ReviewDates checks what depends on the time of the review, which the CRD cannot know: the exceptions, and
// the held game days (none may start in the future, reviewGameDays).
func ReviewDates(rp, old *v1alpha1.ReliabilityProfile, now time.Time) Verdict {
	v := ReviewExceptions(rp, old, now)
	g := reviewGameDays(rp, old, now)
	v.Errors = append(v.Errors, g.Errors...)
	v.Warnings = append(v.Warnings, g.Warnings...)
	return v
}

// ReviewExceptions checks spec.exceptions against the date of the review, which the CRD cannot know: an
// exception may end at most MaxExceptionLifetime days after today (the rules are reviewed twice a year,
// F-3). An exception the previous version of the profile already had, unchanged, is not checked again, so
// that an edit elsewhere in the spec is never refused for a date written under an older operator. It warns
// about an exception that has already expired (its rule is judged as if it were not there). old is nil for
// a create.
func ReviewExceptions(rp, old *v1alpha1.ReliabilityProfile, today time.Time) Verdict {
	var v Verdict
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, time.UTC)
	latest := today.AddDate(0, 0, v1alpha1.MaxExceptionLifetime)
	for i, e := range rp.Spec.Exceptions {
		path := field.NewPath("spec", "exceptions").Index(i).Child("expires")
		expires, err := time.Parse(time.DateOnly, e.Expires)
		if err != nil {
			continue // the CRD's date format refuses it
		}
		if unchanged(old, e) {
			continue
		}
		switch {
		case expires.After(latest):
			v.Errors = append(v.Errors, field.Invalid(path, e.Expires, fmt.Sprintf(
				"an exception to %s may last at most %d days, until %s: the rules are reviewed twice a year (F-3), so the exception comes up again at the next review; renew it then",
				e.Rule, v1alpha1.MaxExceptionLifetime, latest.Format(time.DateOnly))))
		case expires.Before(today):
			v.Warnings = append(v.Warnings, fmt.Sprintf("%s: the exception to %s expired on %s; %s is judged as if it were not there",
				path, e.Rule, e.Expires, e.Rule))
		}
	}
	return v
}

func unchanged(old *v1alpha1.ReliabilityProfile, e v1alpha1.Exception) bool {
	if old == nil {
		return false
	}
	for _, o := range old.Spec.Exceptions {
		if o.Rule == e.Rule && o.Expires == e.Expires {
			return true
		}
	}
	return false
}
