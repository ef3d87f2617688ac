package controllers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/logs"
	"github.com/reliability-operator/reliability-operator/internal/observe"
)

// setStatus writes the whole status from this reconcile's outcome. It is pure: the same profile, results and
// clock give the same status, and an unchanged outcome leaves the status as it was (no write follows).
func setStatus(rp *v1alpha1.ReliabilityProfile, renderErr error, results []apply.Result, now metav1.Time) {
	st := &rp.Status
	sameGeneration := st.ObservedGeneration == rp.Generation
	if renderErr == nil {
		st.Resources = childStatuses(st.Resources, sameGeneration, results, now)
	}
	st.ObservedGeneration = rp.Generation
	setDegradedCondition(st, rp.Generation, renderErr, results, now)
	setDriftedCondition(st, rp.Generation, rp.Spec.Mode, now)
	setReadyCondition(st, rp.Generation, rp.Spec.Mode, now)
	setProgressConditions(st, rp.Generation, renderErr == nil && onlyTransientFailures(results), now)
}

// setProgressConditions sets the kstatus conditions from Degraded: Stalled while it needs someone to act,
// Reconciling while the operator retries failures that pass on their own (transient), neither otherwise.
// kstatus reads a condition that does not apply as absent, and Flux and Cluster API remove them too, so a
// healthy profile carries neither. A profile the operator has not reconciled yet needs no condition: its
// observedGeneration (0, a CRD default, or the previous generation) lags the generation.
func setProgressConditions(st *v1alpha1.ReliabilityProfileStatus, generation int64, transient bool, now metav1.Time) {
	degraded := meta.FindStatusCondition(st.Conditions, v1alpha1.DegradedCondition)
	applies := map[string]bool{}
	if degraded != nil && degraded.Status == metav1.ConditionTrue {
		if transient {
			applies[v1alpha1.ReconcilingCondition] = true
			setCondition(st, metav1.Condition{Type: v1alpha1.ReconcilingCondition, Status: metav1.ConditionTrue,
				Reason: v1alpha1.RetryingReason, Message: "Retrying: " + degraded.Message}, generation, now)
		} else {
			applies[v1alpha1.StalledCondition] = true
			setCondition(st, metav1.Condition{Type: v1alpha1.StalledCondition, Status: metav1.ConditionTrue,
				Reason: degraded.Reason, Message: degraded.Message}, generation, now)
		}
	}
	for _, t := range []string{v1alpha1.StalledCondition, v1alpha1.ReconcilingCondition} {
		if !applies[t] {
			meta.RemoveStatusCondition(&st.Conditions, t)
		}
	}
}

// onlyTransientFailures tells whether every child that is not in sync failed for a reason that passes on
// its own. A foreign object, or one refusal among timeouts, needs someone to act.
func onlyTransientFailures(results []apply.Result) bool {
	for _, r := range results {
		if r.State == v1alpha1.ChildConflict || (r.State == v1alpha1.ChildFailed && !r.Transient) {
			return false
		}
	}
	return true
}

// childStatuses builds resources[] from the results, carrying over each child's drift record while the
// profile's generation stays the same: a new generation is a new baseline.
func childStatuses(prev []v1alpha1.ChildStatus, sameGeneration bool, results []apply.Result, now metav1.Time) []v1alpha1.ChildStatus {
	out := make([]v1alpha1.ChildStatus, 0, len(results))
	for _, res := range results {
		c := v1alpha1.ChildStatus{APIVersion: res.APIVersion, Kind: res.Kind, Name: res.Name, State: res.State}
		old := findChild(prev, res.Kind, res.Name)
		if old != nil && sameGeneration && old.LastDriftTime != nil {
			c.LastDriftTime, c.Message = old.LastDriftTime, old.Message
		}
		// In Audit mode a drifted child stays drifted from one reconcile to the next; only the first
		// finding in a generation is a new drift.
		firstFinding := !sameGeneration || old == nil || old.State != res.State || res.State == v1alpha1.ChildInSync
		if res.Drift && firstFinding {
			c.LastDriftTime = now.DeepCopy()
		}
		if res.State != v1alpha1.ChildInSync || res.Drift {
			c.Message = res.Message
		}
		out = append(out, c)
	}
	return out
}

func setDegradedCondition(st *v1alpha1.ReliabilityProfileStatus, generation int64, renderErr error, results []apply.Result, now metav1.Time) {
	c := metav1.Condition{Type: v1alpha1.DegradedCondition, Status: metav1.ConditionFalse,
		Reason: v1alpha1.HealthyReason, Message: "Every child could be applied."}
	if renderErr != nil {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1alpha1.RenderFailedReason, renderErr.Error()
		var duplicate *DuplicateServiceError
		if errors.As(renderErr, &duplicate) {
			c.Reason = v1alpha1.DuplicateServiceReason
		}
	} else if bad := childrenIn(st.Resources, v1alpha1.ChildConflict, v1alpha1.ChildFailed); len(bad) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, degradedReason(results), describe(bad)
	}
	setCondition(st, c, generation, now)
}

// setDriftedCondition reports changes made by someone else, never differences that come from a change of
// the profile (in Audit mode those leave a child Drifted, but nobody drifted it): DriftDetected while such
// a change is still in place, DriftCorrected when Enforce mode restored it during this generation.
func setDriftedCondition(st *v1alpha1.ReliabilityProfileStatus, generation int64, mode v1alpha1.Mode, now metav1.Time) {
	c := metav1.Condition{Type: v1alpha1.DriftedCondition, Status: metav1.ConditionFalse,
		Reason: v1alpha1.NoDriftReason, Message: "No child was changed by anyone else."}
	var current, corrected []v1alpha1.ChildStatus
	for _, child := range childrenWithDrift(st.Resources) {
		if child.State == v1alpha1.ChildDrifted {
			current = append(current, child)
		} else if mode != v1alpha1.ModeAudit {
			corrected = append(corrected, child)
		}
	}
	if len(current) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1alpha1.DriftDetectedReason, describe(current)
	} else if len(corrected) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, v1alpha1.DriftCorrectedReason, describe(corrected)
	}
	setCondition(st, c, generation, now)
}

// setReadyCondition derives Ready from the children and the Degraded condition; it is never set on its own.
//
// In Audit mode the operator's work is the report, so a profile whose report is complete is Ready=True with
// reason AuditOnly and what would change in its message: kstatus reads Ready=False as in progress, and Flux
// and kubectl waiters would wait for an Audit profile forever.
func setReadyCondition(st *v1alpha1.ReliabilityProfileStatus, generation int64, mode v1alpha1.Mode, now metav1.Time) {
	c := metav1.Condition{Type: v1alpha1.ReadyCondition, Status: metav1.ConditionTrue,
		Reason: v1alpha1.ReconciledReason, Message: fmt.Sprintf("%d children in sync.", len(st.Resources))}
	if degraded := meta.FindStatusCondition(st.Conditions, v1alpha1.DegradedCondition); degraded != nil && degraded.Status == metav1.ConditionTrue {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, degraded.Reason, degraded.Message
	} else if pending := childrenIn(st.Resources, v1alpha1.ChildMissing, v1alpha1.ChildDrifted); len(pending) > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, v1alpha1.ApplyFailedReason, describe(pending)
		if mode == v1alpha1.ModeAudit {
			c.Status, c.Reason = metav1.ConditionTrue, v1alpha1.AuditOnlyReason
			c.Message = fmt.Sprintf("Audit mode, nothing changed; %d of %d children differ from the profile: %s",
				len(pending), len(st.Resources), c.Message)
		}
	}
	setCondition(st, c, generation, now)
}

func setCondition(st *v1alpha1.ReliabilityProfileStatus, c metav1.Condition, generation int64, now metav1.Time) {
	c.ObservedGeneration = generation
	c.LastTransitionTime = now
	meta.SetStatusCondition(&st.Conditions, c)
}

func findChild(children []v1alpha1.ChildStatus, kind, name string) *v1alpha1.ChildStatus {
	for i := range children {
		if children[i].Kind == kind && children[i].Name == name {
			return &children[i]
		}
	}
	return nil
}

func childrenIn(children []v1alpha1.ChildStatus, states ...v1alpha1.ChildState) []v1alpha1.ChildStatus {
	var out []v1alpha1.ChildStatus
	for _, c := range children {
		for _, s := range states {
			if c.State == s {
				out = append(out, c)
			}
		}
	}
	return out
}

func childrenWithDrift(children []v1alpha1.ChildStatus) []v1alpha1.ChildStatus {
	var out []v1alpha1.ChildStatus
	for _, c := range children {
		if c.LastDriftTime != nil {
			out = append(out, c)
		}
	}
	return out
}

// degradedReason is the reason of the first conflicting or failed child.
func degradedReason(results []apply.Result) string {
	for _, r := range results {
		if (r.State == v1alpha1.ChildConflict || r.State == v1alpha1.ChildFailed) && r.Reason != "" {
			return r.Reason
		}
	}
	return v1alpha1.ApplyFailedReason
}

// describe lists children as "Kind/name (State): message; ...".
func describe(children []v1alpha1.ChildStatus) string {
	parts := make([]string, 0, len(children))
	for _, c := range children {
		parts = append(parts, fmt.Sprintf("%s/%s (%s): %s", c.Kind, c.Name, c.State, c.Message))
	}
	return strings.Join(parts, "; ")
}

// setObservedStatus writes what Prometheus reported: status.slos[], status.gameDays[] and the RulesLoaded and
// SLOInputs conditions. When
// Prometheus could not be read, the last known SLO values stay, each with the time it was read.
func setObservedStatus(rp *v1alpha1.ReliabilityProfile, obs observe.Observation) {
	st := &rp.Status
	at := metav1.NewTime(obs.At.UTC().Truncate(time.Second))
	c := metav1.Condition{Type: v1alpha1.RulesLoadedCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.LoadedReason,
		Message: "Prometheus has loaded every rule group of the profile."}
	switch {
	case obs.Err != "":
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, v1alpha1.PrometheusUnreachableReason, obs.Err
	case obs.NoRule:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.NotLoadedReason
		c.Message = "The profile has no PrometheusRule yet, so Prometheus has nothing to load; see the PrometheusRule in resources[]."
	case len(obs.MissingGroups) > 0:
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.NotLoadedReason
		c.Message = fmt.Sprintf("Prometheus has not loaded the rule groups %s of PrometheusRule %s/%s. Check that the "+
			"Prometheus ruleSelector and ruleNamespaceSelector select it (the operator's --monitoring-labels add labels to it).",
			strings.Join(obs.MissingGroups, ", "), rp.Namespace, rp.Name)
	}
	setCondition(st, c, rp.Generation, at)
	setSLOInputsCondition(rp, obs, at)
	setGameDaysStatus(rp, obs)

	if obs.Err != "" {
		return
	}
	var slos []v1alpha1.SLOStatus
	for _, s := range rp.Spec.SLOs {
		entry := v1alpha1.SLOStatus{Name: s.Name, ObservedAt: &at}
		v := obs.SLOs[s.Name]
		if v.SLI != nil {
			entry.SLI = strconv.FormatFloat(*v.SLI*100, 'f', 3, 64) + "%"
		}
		if v.BudgetRemaining != nil {
			entry.ErrorBudgetRemaining = strconv.FormatFloat(*v.BudgetRemaining*100, 'f', 1, 64) + "%"
		}
		if v.BurnRate1h != nil {
			entry.BurnRate1h = strconv.FormatFloat(*v.BurnRate1h, 'f', 2, 64)
		}
		if len(s.GroupBy) > 0 {
			entry.Groups, entry.WorstGroup = ptr.To(int32(v.Groups)), v.WorstGroup
			entry.Message = groupsMessage(s, v)
		}
		// observedAt moves only with the values: an unchanged SLO costs no status write.
		for _, prev := range st.SLOs {
			if prev.Name == entry.Name && prev.SLI == entry.SLI && prev.ErrorBudgetRemaining == entry.ErrorBudgetRemaining &&
				prev.BurnRate1h == entry.BurnRate1h && equalInt32(prev.Groups, entry.Groups) && prev.WorstGroup == entry.WorstGroup &&
				prev.Message == entry.Message && prev.ObservedAt != nil {
				entry.ObservedAt = prev.ObservedAt
			}
		}
		slos = append(slos, entry)
	}
	st.SLOs = slos
}

// setDisasterRecoveryStatus reports the recovery plan from the spec. It needs no clock: the due date of the
// next drill is a date, and the overdue alert is Prometheus' to raise.
//
// backups says whether the operator renders backups (--velero-namespace); without, none is reported.
func setDisasterRecoveryStatus(rp *v1alpha1.ReliabilityProfile, backups bool) {
	plan, err := dr.PlanOf(rp)
	if err != nil || plan == nil {
		rp.Status.DisasterRecovery = nil
		return
	}
	st := &v1alpha1.DisasterRecoveryStatus{RTO: rp.Spec.DisasterRecovery.RTO, RPO: rp.Spec.DisasterRecovery.RPO}
	if plan.Backup != nil && backups {
		st.RPO = model.Duration(plan.RPO).String()
		st.BackupSchedule = fmt.Sprintf("%s every %s", plan.ScheduleName, model.Duration(plan.BackupInterval()))
	}
	if plan.LastRestoreTest != nil {
		st.LastRestoreTest = plan.LastRestoreTest.Format(time.DateOnly)
		st.RestoreTestDue = plan.RestoreTestDue().Format(time.DateOnly)
	}
	rp.Status.DisasterRecovery = st
}

// setLogsStatus reports the profile's log retention and whether a backend enforces it (O-5): with none
// configured, the status says so, and nothing fails.
func setLogsStatus(rp *v1alpha1.ReliabilityProfile, backend *LogBackend, results []apply.Result) {
	tier, retention := logs.Retention(rp)
	st := &v1alpha1.LogsStatus{Tier: tier, Retention: fmt.Sprintf("%dd", int(retention.Hours()/24))}
	switch {
	case backend == nil:
		st.Message = "No log backend is configured (--loki-retention-configmap or --logging-cluster-outputs), so the retention is not enforced."
	case rp.Spec.Mode == v1alpha1.ModeAudit:
		st.Backend, st.Message = backend.Name, "Audit mode: the retention is not written to the backend."
	case backend.State == nil:
		// logging-operator: the retention holds when the profile's Flow is in place.
		st.Backend, st.Message = backend.Name, "The logging-operator Flow is not in place; see resources[]."
		for _, r := range results {
			if r.Kind == "Flow" && r.State == v1alpha1.ChildInSync {
				st.Enforced, st.Message = true, ""
			}
		}
	default:
		st.Backend = backend.Name
		st.Enforced, st.Message = backend.State.Enforced(rp)
	}
	rp.Status.Logs = st
}

func equalInt32(a, b *int32) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}
