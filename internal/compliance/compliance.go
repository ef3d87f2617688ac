package compliance

import (
	"fmt"
	"slices"
	"strings"
	"time"

	policyv1 "k8s.io/api/policy/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Snapshot is what the checks read: the profile with this reconcile's status (children, logs, placement)
// already set, the live PodDisruptionBudget child if there is one, what Prometheus said of the service, and
// the time of the reconcile.
type Snapshot struct {
	Profile *v1alpha1.ReliabilityProfile
	PDB     *policyv1.PodDisruptionBudget
	Cluster *Cluster
	Scrape  *Scrape
	// MinObjective is the lowest objective the cluster's ReliabilityPolicy allows the profile's tier, in
	// percent; empty when it sets none.
	MinObjective string
	Now          time.Time
}

// Scrape is what Prometheus answered about the service, when the operator reads it (--prometheus-url); nil
// without it, and before its first answer.
type Scrape struct {
	// Err is why Prometheus could not be read; nothing else is then known.
	Err string
	// Targets and TargetsUp count the scrape targets with the service's namespace and service labels, and
	// those whose last scrape succeeded.
	Targets, TargetsUp int
	// VersionMetricSeries tells whether the declared version metric has a series of the service.
	VersionMetricSeries bool
}

// ScrapeGrace is how long after a profile's creation a service Prometheus does not scrape yet is Unknown
// rather than failing O-7 and O-8: prometheus-operator has to write the new ServiceMonitor into the
// configuration, Prometheus to reload it and discover the endpoints, and the first scrape to happen. It is
// the `for:` of the ServiceNotScraped alert.
const ScrapeGrace = 10 * time.Minute

// scrapeGraceEnd is when the profile's grace for being scraped ends.
func scrapeGraceEnd(rp *v1alpha1.ReliabilityProfile) time.Time {
	return rp.CreationTimestamp.Add(ScrapeGrace)
}

// Verdict is the outcome of one rule's check.
type Verdict struct {
	Rule    string
	Result  v1alpha1.ComplianceResult
	Message string
}

// Check judges one rule.
type Check struct {
	Rule     string
	Evaluate func(Snapshot) Verdict
}

// Evaluate runs every check in Checks and applies the profile's exceptions: a rule that fails while an
// exception for it is in force is Waived; once the exception has expired the check's verdict stands, and the
// message says so. Verdicts come in the order of Checks.
func Evaluate(s Snapshot) []Verdict {
	out := make([]Verdict, 0, len(Checks))
	for _, c := range Checks {
		v := c.Evaluate(s)
		v.Rule = c.Rule
		out = append(out, waive(v, s))
	}
	return out
}

func waive(v Verdict, s Snapshot) Verdict {
	e := exceptionFor(s.Profile, v.Rule)
	if e == nil || v.Result == v1alpha1.CompliancePass || v.Result == v1alpha1.ComplianceNotApplicable {
		return v
	}
	until, ok := ExceptionEnd(*e)
	switch {
	case !ok:
		v.Message += fmt.Sprintf(" The exception's expiry %q is not a date, so it does not hold.", e.Expires)
	case !s.Now.Before(until):
		v.Message += fmt.Sprintf(" The exception expired on %s.", e.Expires)
	default:
		v.Result = v1alpha1.ComplianceWaived
		v.Message = fmt.Sprintf("Waived until %s%s: %s (%s)", e.Expires, approvedBy(*e), e.Reason, v.Message)
	}
	return v
}

func approvedBy(e v1alpha1.Exception) string {
	if e.ApprovedBy == "" {
		return ""
	}
	return ", approved by " + e.ApprovedBy
}

func exceptionFor(rp *v1alpha1.ReliabilityProfile, rule string) *v1alpha1.Exception {
	for i := range rp.Spec.Exceptions {
		if rp.Spec.Exceptions[i].Rule == rule {
			return &rp.Spec.Exceptions[i]
		}
	}
	return nil
}

// ExceptionEnd is the moment an exception stops holding: the end of its expires day, in UTC.
func ExceptionEnd(e v1alpha1.Exception) (time.Time, bool) {
	d, err := time.Parse(time.DateOnly, e.Expires)
	if err != nil {
		return time.Time{}, false
	}
	return d.AddDate(0, 0, 1), true
}

// NextChange is the earliest time after s.Now at which a verdict can change with nothing else changing: an
// exception ending, a restore drill or a game day falling due. The controller looks again then. Zero when there is none.
func NextChange(s Snapshot) time.Time {
	var next time.Time
	consider := func(t time.Time) {
		if t.After(s.Now) && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	for _, e := range s.Profile.Spec.Exceptions {
		if end, ok := ExceptionEnd(e); ok {
			consider(end)
		}
	}
	if due := restoreDrillDue(s.Profile); due != nil {
		consider(*due)
	}
	if due := gameDayDue(s.Profile); due != nil {
		consider(*due)
	}
	// A service still not scraped when its grace ends fails then, though Prometheus' answer stays the same.
	if sc := s.Scrape; sc != nil && sc.Err == "" && (sc.Targets == 0 || !sc.VersionMetricSeries) {
		consider(scrapeGraceEnd(s.Profile))
	}
	return next
}

// Summary is "met/judged" for the printer column: rules that pass or are waived, of those that apply.
func Summary(verdicts []Verdict) string {
	met, judged := 0, 0
	for _, v := range verdicts {
		switch v.Result {
		case v1alpha1.ComplianceNotApplicable:
			continue
		case v1alpha1.CompliancePass, v1alpha1.ComplianceWaived:
			met++
		}
		judged++
	}
	return fmt.Sprintf("%d/%d", met, judged)
}

// Failing lists the rules with the given result, such as "O-7, S-4".
func Failing(verdicts []Verdict, result v1alpha1.ComplianceResult) []string {
	var rules []string
	for _, v := range verdicts {
		if v.Result == result {
			rules = append(rules, v.Rule)
		}
	}
	return rules
}

// JudgedRules are the rule ids Checks judges, in order.
func JudgedRules() []string {
	rules := make([]string, 0, len(Checks))
	for _, c := range Checks {
		rules = append(rules, c.Rule)
	}
	return rules
}

func pass(format string, args ...any) Verdict {
	return Verdict{Result: v1alpha1.CompliancePass, Message: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) Verdict {
	return Verdict{Result: v1alpha1.ComplianceFail, Message: fmt.Sprintf(format, args...)}
}

func unknown(format string, args ...any) Verdict {
	return Verdict{Result: v1alpha1.ComplianceUnknown, Message: fmt.Sprintf(format, args...)}
}

func notApplicable(format string, args ...any) Verdict {
	return Verdict{Result: v1alpha1.ComplianceNotApplicable, Message: fmt.Sprintf(format, args...)}
}

func child(rp *v1alpha1.ReliabilityProfile, kind string) *v1alpha1.ChildStatus {
	i := slices.IndexFunc(rp.Status.Resources, func(c v1alpha1.ChildStatus) bool { return c.Kind == kind })
	if i < 0 {
		return nil
	}
	return &rp.Status.Resources[i]
}

// childInSync says whether the child of that kind is in place, and if not, why.
func childInSync(rp *v1alpha1.ReliabilityProfile, kind string) (bool, string) {
	c := child(rp, kind)
	switch {
	case c == nil:
		return false, fmt.Sprintf("the profile has no %s", kind)
	case c.State != v1alpha1.ChildInSync && c.Message == "":
		return false, fmt.Sprintf("the %s %s is %s", kind, c.Name, c.State)
	case c.State != v1alpha1.ChildInSync:
		return false, fmt.Sprintf("the %s %s is %s: %s", kind, c.Name, c.State, strings.TrimSuffix(c.Message, "."))
	}
	return true, ""
}
