package compliance

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/gameday"
	"github.com/reliability-operator/reliability-operator/internal/policy"
)

// Checks are the rules the operator judges, in the manifesto's order. Rules software cannot judge (C-*,
// D-1 to D-5, S-1, S-5, S-6, P-1, P-2, P-4, O-1, O-3, O-10, O-11) have no check: docs/manifesto.md says why.
var Checks = []Check{
	{v1alpha1.RuleD6, checkDisruption},
	{v1alpha1.RuleO2, checkServiceLabel},
	{v1alpha1.RuleO5, checkLogRetention},
	{v1alpha1.RuleO6, checkMetricsPath},
	{v1alpha1.RuleO7, checkMetricsPort},
	{v1alpha1.RuleO8, checkVersionMetric},
	{v1alpha1.RuleO9, checkIndicators},
	{v1alpha1.RuleP3, checkSpotFraction},
	{v1alpha1.RuleR1, checkAboveExternal},
	{v1alpha1.RuleR2, checkOwnTarget},
	{v1alpha1.RuleR3, checkRestoreDrill},
	{v1alpha1.RuleR4, checkRecoveryPlan},
	{v1alpha1.RuleS2, checkExposure},
	{v1alpha1.RuleS3, checkSecrets},
	{v1alpha1.RuleS4, checkNetworkPolicy},
}

func critical(rp *v1alpha1.ReliabilityProfile) bool { return rp.Spec.Tier == v1alpha1.TierCritical }

// D-6: a node drain must never be blocked by the service, and a critical service survives losing one pod.
// The PodDisruptionBudget's status, kept by Kubernetes' disruption controller, says both.
func checkDisruption(s Snapshot) Verdict {
	if ok, why := childInSync(s.Profile, "PodDisruptionBudget"); !ok {
		return fail("No disruption budget in force: %s.", why)
	}
	if s.PDB == nil || s.PDB.Status.ObservedGeneration != s.PDB.Generation {
		return unknown("The PodDisruptionBudget %s has no status for its current spec yet.", s.Profile.Name)
	}
	st := s.PDB.Status
	if st.ExpectedPods == 0 {
		return unknown("The selector matches no pod yet, so the PodDisruptionBudget cannot tell whether a drain would pass.")
	}
	if st.DisruptionsAllowed < 1 {
		return fail("The PodDisruptionBudget allows no disruption with %d of %d pods healthy: a node drain would wait for it.",
			st.CurrentHealthy, st.ExpectedPods)
	}
	if critical(s.Profile) && st.ExpectedPods < 2 {
		return fail("A critical service runs at least two replicas, so that one can be drained; it runs %d.", st.ExpectedPods)
	}
	return pass("%d of %d pods healthy; %d may be disrupted at once, so a node drain passes.", st.CurrentHealthy, st.ExpectedPods, st.DisruptionsAllowed)
}

// O-2: every series scraped from the service carries its name; the ServiceMonitor's relabeling adds it.
func checkServiceLabel(s Snapshot) Verdict {
	if ok, why := childInSync(s.Profile, "ServiceMonitor"); !ok {
		return fail("Nothing gives the service's series the label service=%s: %s.", s.Profile.Spec.Service, why)
	}
	return pass("The ServiceMonitor gives every series it scrapes the label service=%s.", s.Profile.Spec.Service)
}

// O-5: the tier's retention is enforced by the configured log backend.
func checkLogRetention(s Snapshot) Verdict {
	l := s.Profile.Status.Logs
	switch {
	case l == nil:
		return unknown("The log retention has not been reported yet.")
	case l.Enforced:
		return pass("%s retention of the %s tier enforced by %s.", l.Retention, l.Tier, l.Backend)
	case l.Backend == "":
		return unknown("%s", l.Message)
	}
	return fail("%s retention of the %s tier not enforced: %s", l.Retention, l.Tier, l.Message)
}

func metricsPath(rp *v1alpha1.ReliabilityProfile) string {
	if rp.Spec.Metrics.Path != "" {
		return rp.Spec.Metrics.Path
	}
	return "/metrics"
}

func metricsPort(rp *v1alpha1.ReliabilityProfile) int32 {
	if rp.Spec.Metrics.Port != 0 {
		return rp.Spec.Metrics.Port
	}
	return 8067
}

// O-6: metrics under /metrics, scraped.
func checkMetricsPath(s Snapshot) Verdict {
	if p := metricsPath(s.Profile); p != "/metrics" {
		return fail("Metrics are served under %s; the manifesto asks for /metrics.", p)
	}
	if ok, why := childInSync(s.Profile, "ServiceMonitor"); !ok {
		return fail("The service's /metrics is not scraped: %s.", why)
	}
	return pass("The ServiceMonitor scrapes /metrics.")
}

// O-7: metrics on port 8067.
func checkMetricsPort(s Snapshot) Verdict {
	if p := metricsPort(s.Profile); p != 8067 {
		return fail("Metrics are served on port %d; the manifesto asks for 8067.", p)
	}
	if ok, why := childInSync(s.Profile, "ServiceMonitor"); !ok {
		return fail("Port 8067 is not scraped: %s.", why)
	}
	v := pass("The ServiceMonitor scrapes port 8067.")
	if s.Cluster != nil {
		v = metricsPortInCluster(s.Cluster, s.Profile, 8067)
	}
	if v.Result != v1alpha1.CompliancePass {
		return v
	}
	return judgeTargets(s, v)
}

// judgeTargets adds to a passing O-7 what Prometheus says: the service's targets exist and are up. A
// Prometheus that cannot be read leaves the verdict on the cluster's objects, saying so, rather than turning
// every service Unknown while Prometheus is away.
func judgeTargets(s Snapshot, v Verdict) Verdict {
	sc, rp := s.Scrape, s.Profile
	switch {
	case sc == nil:
		return v
	case sc.Err != "":
		v.Message += " Prometheus' targets were not read: " + sc.Err
		return v
	case sc.Targets == 0 && s.Now.Before(scrapeGraceEnd(rp)):
		return unknown("%s Prometheus scrapes no target of the service yet; it has until %s, %s after the profile's creation, to find one.",
			v.Message, scrapeGraceEnd(rp).UTC().Format(time.RFC3339), ScrapeGrace)
	case sc.Targets == 0:
		return fail("%s Yet Prometheus scrapes no target of it (no up{namespace=%q,service=%q}): check that Prometheus' serviceMonitorSelector and serviceMonitorNamespaceSelector select the ServiceMonitor %s/%s.",
			v.Message, rp.Namespace, rp.Spec.Service, rp.Namespace, rp.Name)
	case sc.TargetsUp < sc.Targets:
		return fail("%d of %d scrape targets of the service are down in Prometheus (up == 0).", sc.Targets-sc.TargetsUp, sc.Targets)
	}
	v.Message += fmt.Sprintf(" Prometheus scrapes %d target(s) of it, all up.", sc.Targets)
	return v
}

// O-8: a version metric, declared so that its absence alerts.
func checkVersionMetric(s Snapshot) Verdict {
	if s.Profile.Spec.Metrics.VersionMetric == "" {
		return fail("No version metric declared (spec.metrics.versionMetric, such as %s_build_info).", strings.ReplaceAll(s.Profile.Spec.Service, "-", "_"))
	}
	rp, m := s.Profile, s.Profile.Spec.Metrics.VersionMetric
	v := pass("Version metric %s declared; ServiceVersionMetricAbsent alerts when it is missing.", m)
	sc := s.Scrape
	switch {
	case sc == nil:
		return v
	case sc.Err != "":
		v.Message += " Whether it has series was not read: " + sc.Err
		return v
	case sc.VersionMetricSeries:
		return pass("Version metric %s declared, and Prometheus has series of it for the service.", m)
	case s.Now.Before(scrapeGraceEnd(rp)):
		return unknown("Version metric %s declared; Prometheus has no series of it yet, and has until %s to scrape one.",
			m, scrapeGraceEnd(rp).UTC().Format(time.RFC3339))
	}
	return fail("Version metric %s declared, but Prometheus has no series %s{namespace=%q,service=%q}: the service does not expose it, or is not scraped.",
		m, m, rp.Namespace, rp.Spec.Service)
}

// O-9: availability and latency are measured.
func checkIndicators(s Snapshot) Verdict {
	var availability, latency []string
	for _, slo := range s.Profile.Spec.SLOs {
		// A boolGauge (a probe, up) and a promQL ratio measure availability too.
		if slo.Indicator.Ratio != nil || slo.Indicator.BoolGauge != nil || slo.Indicator.PromQL != nil {
			availability = append(availability, slo.Name)
		}
		if slo.Indicator.Latency != nil {
			latency = append(latency, slo.Name)
		}
	}
	var missing []string
	if len(availability) == 0 {
		missing = append(missing, "availability SLO (a ratio, boolGauge or promQL indicator)")
	}
	if len(latency) == 0 {
		missing = append(missing, "latency SLO (a latency indicator)")
	}
	if len(missing) > 0 {
		return fail("The profile has no %s.", strings.Join(missing, " and no "))
	}
	return pass("Availability: %s; latency: %s.", strings.Join(availability, ", "), strings.Join(latency, ", "))
}

// P-3: at most the limit's share of the service's pods on spot nodes.
func checkSpotFraction(s Snapshot) Verdict {
	p := s.Profile.Status.Placement
	if p == nil {
		return unknown("Where the pods run is observed only when the operator runs with --spot-placement.")
	}
	if p.Total == 0 {
		return unknown("No running pod of the service to observe.")
	}
	fraction, err1 := strconv.ParseFloat(p.Fraction, 64)
	limit, err2 := strconv.ParseFloat(p.Limit, 64)
	if err1 != nil || err2 != nil {
		return unknown("The placement status (fraction %q, limit %q) cannot be read.", p.Fraction, p.Limit)
	}
	if fraction > limit {
		return fail("%d of %d pods on spot nodes (%s), above the limit %s.", p.Spot, p.Total, p.Fraction, p.Limit)
	}
	return pass("%d of %d pods on spot nodes (%s), within the limit %s.", p.Spot, p.Total, p.Fraction, p.Limit)
}

// the internal objective is above the one promised to customers (admission refuses one that is not).
func checkAboveExternal(s Snapshot) Verdict {
	var pairs []string
	for _, slo := range s.Profile.Spec.SLOs {
		if slo.ExternalObjective != "" {
			pairs = append(pairs, fmt.Sprintf("%s %s%% > %s%%", slo.Name, slo.Objective, slo.ExternalObjective))
		}
	}
	if len(pairs) == 0 {
		return notApplicable("No SLO declares an external objective (spec.slos[].externalObjective) to aim above.")
	}
	return pass("Objectives above those promised: %s.", strings.Join(pairs, ", "))
}

// the service has SLO targets of its own.
func checkOwnTarget(s Snapshot) Verdict {
	if len(s.Profile.Spec.SLOs) == 0 {
		return fail("The profile declares no SLO (spec.slos).")
	}
	if below := policy.BelowMinimum(s.Profile, s.MinObjective); len(below) > 0 {
		return fail("Below the %s tier's minimum objective of %s%% (ReliabilityPolicy %s): %s.", s.Profile.Spec.Tier,
			s.MinObjective, v1alpha1.PolicyName, strings.Join(below, ", "))
	}
	if ok, why := childInSync(s.Profile, "PrometheusRule"); !ok {
		return fail("The SLOs' rules are not in place: %s.", why)
	}
	v := pass("%d SLO(s) with their own targets, recorded and alerted on.", len(s.Profile.Spec.SLOs))
	if s.MinObjective != "" {
		v.Message = strings.TrimSuffix(v.Message, ".") + fmt.Sprintf(", each at or above the %s tier's minimum of %s%%.", s.Profile.Spec.Tier, s.MinObjective)
	}
	return v
}

func restoreDrillDue(rp *v1alpha1.ReliabilityProfile) *time.Time {
	plan, err := dr.PlanOf(rp)
	if err != nil || plan == nil {
		return nil
	}
	return plan.RestoreTestDue()
}

func gameDayDue(rp *v1alpha1.ReliabilityProfile) *time.Time {
	plan, err := gameday.PlanOf(rp)
	if err != nil || plan == nil {
		return nil
	}
	return plan.Due()
}

// drills happen, and recently. Two records count, each within its own allowance: a restore drill
// (spec.disasterRecovery.lastRestoreTest, within restoreTestMaxAge) and a game day (the last of
// spec.gameDays.held ended within the cadence). One current record passes; the message names every record,
// so that an overdue one shows even then (its own alert, RestoreDrillOverdue or GameDayOverdue, fires too).
func checkRestoreDrill(s Snapshot) Verdict {
	plan, err := dr.PlanOf(s.Profile)
	if err != nil {
		return unknown("spec.disasterRecovery cannot be read: %v.", err)
	}
	games, err := gameday.PlanOf(s.Profile)
	if err != nil {
		return unknown("spec.gameDays cannot be read: %v.", err)
	}
	var current, overdue []string
	if plan != nil && plan.LastRestoreTest != nil {
		if due := plan.RestoreTestDue(); s.Now.Before(*due) {
			current = append(current, fmt.Sprintf("Last restore drill on %s; the next is due on %s.",
				plan.LastRestoreTest.Format(time.DateOnly), due.Format(time.DateOnly)))
		} else {
			overdue = append(overdue, fmt.Sprintf("The last restore drill, on %s, is older than %s: one was due on %s.",
				plan.LastRestoreTest.Format(time.DateOnly), days(plan.RestoreTestMaxAge), due.Format(time.DateOnly)))
		}
	}
	if games != nil {
		if due := games.Due(); due == nil {
			overdue = append(overdue, fmt.Sprintf("No game day recorded (spec.gameDays.held), with a cadence of %s.", days(games.Cadence)))
		} else if last := games.Last(); s.Now.Before(*due) {
			current = append(current, fmt.Sprintf("Last game day %s ended on %s; the next is due on %s.",
				last.Name, last.End.Format(time.DateOnly), due.Format(time.DateOnly)))
		} else {
			overdue = append(overdue, fmt.Sprintf("The last game day, %s, ended on %s, longer ago than the cadence of %s: one was due on %s.",
				last.Name, last.End.Format(time.DateOnly), days(games.Cadence), due.Format(time.DateOnly)))
		}
	}
	switch {
	case len(current) > 0:
		return pass("%s", strings.Join(append(current, overdue...), " "))
	case len(overdue) > 0:
		return fail("%s", strings.Join(overdue, " "))
	case !critical(s.Profile):
		return notApplicable("No restore drill or game day recorded; drills are asked of critical services.")
	}
	return fail("No restore drill recorded (spec.disasterRecovery.lastRestoreTest) and no game day (spec.gameDays.held).")
}

func days(d time.Duration) string { return fmt.Sprintf("%dd", int(d.Hours()/24)) }

// a disaster-recovery plan with a runbook, for critical services.
func checkRecoveryPlan(s Snapshot) Verdict {
	d := s.Profile.Spec.DisasterRecovery
	if d != nil && d.RunbookURL != "" {
		return pass("Disaster-recovery runbook: %s.", d.RunbookURL)
	}
	if !critical(s.Profile) {
		return notApplicable("A disaster-recovery runbook is asked of critical services.")
	}
	return fail("A critical service without a disaster-recovery runbook (spec.disasterRecovery.runbookURL).")
}

// S-4: access limited to the ports and sources needed, by a NetworkPolicy in force.
func checkNetworkPolicy(s Snapshot) Verdict {
	if s.Profile.Spec.Network == nil {
		return fail("The profile declares no spec.network, so no NetworkPolicy limits who reaches the service.")
	}
	if ok, why := childInSync(s.Profile, "NetworkPolicy"); !ok {
		return fail("No NetworkPolicy in force: %s.", why)
	}
	return pass("The NetworkPolicy %s admits only the declared sources and ports.", s.Profile.Name)
}
