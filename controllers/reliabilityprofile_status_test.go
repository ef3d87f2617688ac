package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/observe"
)

var (
	t0 = metav1.NewTime(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(t0.Add(time.Minute))
)

func result(kind string, state v1alpha1.ChildState, mutate ...func(*apply.Result)) apply.Result {
	r := apply.Result{APIVersion: "v1", Kind: kind, Name: "checkout", State: state}
	for _, m := range mutate {
		m(&r)
	}
	return r
}

func drift(r *apply.Result) {
	r.Drift, r.Message = true, "spec.x was changed by kubectl-edit; restored."
}

func profileAt(generation int64, mode v1alpha1.Mode) *v1alpha1.ReliabilityProfile {
	rp := &v1alpha1.ReliabilityProfile{}
	rp.Generation, rp.Spec.Mode = generation, mode
	return rp
}

func wantCondition(t *testing.T, rp *v1alpha1.ReliabilityProfile, condType string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := meta.FindStatusCondition(rp.Status.Conditions, condType)
	if c == nil || c.Status != status || c.Reason != reason || c.ObservedGeneration != rp.Generation {
		t.Errorf("%s = %+v, want %s/%s at generation %d", condType, c, status, reason, rp.Generation)
	}
}

func TestSetStatus(t *testing.T) {
	tests := []struct {
		name    string
		mode    v1alpha1.Mode
		results []apply.Result
		err     error
		ready   [2]string // status, reason
		drifted [2]string
		degrade [2]string
		// progress is the kstatus condition that must be True ("type/reason"), the other one absent; empty
		// for neither.
		progress string
	}{
		{"every child in sync makes the profile Ready", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildInSync), result("B", v1alpha1.ChildInSync)}, nil,
			[2]string{"True", v1alpha1.ReconciledReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"False", v1alpha1.HealthyReason}, ""},
		{"a foreign object degrades the profile and Ready says why", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildInSync), result("B", v1alpha1.ChildConflict, func(r *apply.Result) { r.Reason = v1alpha1.ForeignObjectReason })}, nil,
			[2]string{"False", v1alpha1.ForeignObjectReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.ForeignObjectReason}, "Stalled/ForeignObject"},
		{"a kind that is not installed degrades the profile", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildFailed, func(r *apply.Result) { r.Reason = v1alpha1.KindNotInstalledReason })}, nil,
			[2]string{"False", v1alpha1.KindNotInstalledReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.KindNotInstalledReason}, "Stalled/KindNotInstalled"},
		{"a child refused by the API server stalls the profile", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildFailed, func(r *apply.Result) { r.Reason = v1alpha1.ApplyFailedReason })}, nil,
			[2]string{"False", v1alpha1.ApplyFailedReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.ApplyFailedReason}, "Stalled/ApplyFailed"},
		{"a child that timed out is being retried: Reconciling, not Stalled", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildInSync), result("B", v1alpha1.ChildFailed, func(r *apply.Result) { r.Reason, r.Transient = v1alpha1.ApplyFailedReason, true })}, nil,
			[2]string{"False", v1alpha1.ApplyFailedReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.ApplyFailedReason}, "Reconciling/Retrying"},
		{"one refusal among timeouts stalls the profile", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildFailed, func(r *apply.Result) { r.Reason, r.Transient = v1alpha1.ApplyFailedReason, true }),
				result("B", v1alpha1.ChildConflict, func(r *apply.Result) { r.Reason = v1alpha1.ForeignObjectReason })}, nil,
			[2]string{"False", v1alpha1.ApplyFailedReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.ApplyFailedReason}, "Stalled/ApplyFailed"},
		{"a corrected drift is recorded and the profile stays Ready", v1alpha1.ModeEnforce,
			[]apply.Result{result("A", v1alpha1.ChildInSync, drift)}, nil,
			[2]string{"True", v1alpha1.ReconciledReason}, [2]string{"True", v1alpha1.DriftCorrectedReason}, [2]string{"False", v1alpha1.HealthyReason}, ""},
		{"a drift in Audit mode is reported, and the report makes the profile Ready", v1alpha1.ModeAudit,
			[]apply.Result{result("A", v1alpha1.ChildDrifted, drift)}, nil,
			[2]string{"True", v1alpha1.AuditOnlyReason}, [2]string{"True", v1alpha1.DriftDetectedReason}, [2]string{"False", v1alpha1.HealthyReason}, ""},
		{"missing children in Audit mode are AuditOnly", v1alpha1.ModeAudit,
			[]apply.Result{result("A", v1alpha1.ChildMissing)}, nil,
			[2]string{"True", v1alpha1.AuditOnlyReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"False", v1alpha1.HealthyReason}, ""},
		{"a render error degrades the profile", v1alpha1.ModeEnforce, nil, errors.New("spec.service is empty"),
			[2]string{"False", v1alpha1.RenderFailedReason}, [2]string{"False", v1alpha1.NoDriftReason}, [2]string{"True", v1alpha1.RenderFailedReason}, "Stalled/RenderFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := profileAt(3, tt.mode)
			setStatus(rp, tt.err, tt.results, t0)
			if rp.Status.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d, want 3", rp.Status.ObservedGeneration)
			}
			wantCondition(t, rp, v1alpha1.ReadyCondition, metav1.ConditionStatus(tt.ready[0]), tt.ready[1])
			wantCondition(t, rp, v1alpha1.DriftedCondition, metav1.ConditionStatus(tt.drifted[0]), tt.drifted[1])
			wantCondition(t, rp, v1alpha1.DegradedCondition, metav1.ConditionStatus(tt.degrade[0]), tt.degrade[1])
			for _, condType := range []string{v1alpha1.StalledCondition, v1alpha1.ReconcilingCondition} {
				if want, reason, _ := strings.Cut(tt.progress, "/"); want == condType {
					wantCondition(t, rp, condType, metav1.ConditionTrue, reason)
				} else if c := meta.FindStatusCondition(rp.Status.Conditions, condType); c != nil {
					t.Errorf("%s = %+v, want it absent", condType, c)
				}
			}

			// The next reconcile finds the same children (a corrected drift is no longer a drift) and a minute
			// later changes nothing, so the reconciler writes nothing.
			steady := make([]apply.Result, len(tt.results))
			for i, r := range tt.results {
				steady[i] = r
				if r.State == v1alpha1.ChildInSync {
					steady[i].Drift = false
				}
			}
			before := rp.Status.DeepCopy()
			setStatus(rp, tt.err, steady, t1)
			if !equality.Semantic.DeepEqual(before, &rp.Status) {
				t.Errorf("an unchanged outcome changed the status:\nbefore %+v\nafter  %+v", before, rp.Status)
			}
		})
	}
}

func TestDriftRecords(t *testing.T) {
	t.Run("an Audit drift keeps the time it was first found", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeAudit)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildDrifted, drift)}, t0)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildDrifted, drift)}, t1)
		if got := rp.Status.Resources[0].LastDriftTime; got == nil || !got.Equal(&t0) {
			t.Errorf("lastDriftTime = %v, want %v", got, t0)
		}
	})
	t.Run("each corrected drift in Enforce mode is a new one", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeEnforce)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync, drift)}, t0)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync, drift)}, t1)
		if got := rp.Status.Resources[0].LastDriftTime; got == nil || !got.Equal(&t1) {
			t.Errorf("lastDriftTime = %v, want %v", got, t1)
		}
	})
	t.Run("a corrected drift stays on record while the generation is unchanged", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeEnforce)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync, drift)}, t0)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync)}, t1)
		c := rp.Status.Resources[0]
		if c.LastDriftTime == nil || c.Message == "" {
			t.Errorf("the drift record was lost: %+v", c)
		}
		wantCondition(t, rp, v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftCorrectedReason)
	})
	t.Run("a new generation starts a new baseline", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeEnforce)
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync, drift)}, t0)
		rp.Generation = 2
		setStatus(rp, nil, []apply.Result{result("A", v1alpha1.ChildInSync)}, t1)
		if c := rp.Status.Resources[0]; c.LastDriftTime != nil || c.Message != "" {
			t.Errorf("the drift record survived a spec change: %+v", c)
		}
		wantCondition(t, rp, v1alpha1.DriftedCondition, metav1.ConditionFalse, v1alpha1.NoDriftReason)
	})
}

func TestSetObservedStatus(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	rp := profileAt(1, v1alpha1.ModeEnforce)
	rp.Spec.SLOs = []v1alpha1.SLO{{Name: "availability"}}
	values := observe.Observation{At: t0.Time, SLOs: map[string]observe.SLOValues{
		"availability": {SLI: f(0.99), BudgetRemaining: f(0.8), BurnRate1h: f(0.2)},
	}}

	setObservedStatus(rp, values)
	wantCondition(t, rp, v1alpha1.RulesLoadedCondition, metav1.ConditionTrue, v1alpha1.LoadedReason)
	if got := rp.Status.SLOs; len(got) != 1 || got[0].SLI != "99.000%" || got[0].ErrorBudgetRemaining != "80.0%" || got[0].BurnRate1h != "0.20" {
		t.Fatalf("status.slos = %+v", got)
	}

	t.Run("the same values a poll later change nothing, so no status is written", func(t *testing.T) {
		before := rp.Status.DeepCopy()
		later := values
		later.At = t1.Time
		setObservedStatus(rp, later)
		if !equality.Semantic.DeepEqual(before, &rp.Status) {
			t.Errorf("status changed:\nbefore %+v\nafter  %+v", before, rp.Status)
		}
	})
	t.Run("an unreachable Prometheus keeps the last values", func(t *testing.T) {
		setObservedStatus(rp, observe.Observation{At: t1.Time, Err: "connection refused"})
		wantCondition(t, rp, v1alpha1.RulesLoadedCondition, metav1.ConditionUnknown, v1alpha1.PrometheusUnreachableReason)
		if rp.Status.SLOs[0].ErrorBudgetRemaining != "80.0%" {
			t.Errorf("the last known budget was lost: %+v", rp.Status.SLOs)
		}
	})
	t.Run("a profile without a PrometheusRule is not blamed on the ruleSelector", func(t *testing.T) {
		setObservedStatus(rp, observe.Observation{At: t1.Time, NoRule: true})
		c := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.RulesLoadedCondition)
		if c.Reason != v1alpha1.NotLoadedReason || strings.Contains(c.Message, "ruleSelector") {
			t.Errorf("RulesLoaded = %+v", c)
		}
	})
}

func TestDuplicateService(t *testing.T) {
	at := func(name, service string, created metav1.Time) v1alpha1.ReliabilityProfile {
		rp := v1alpha1.ReliabilityProfile{}
		rp.Name, rp.UID, rp.Spec.Service, rp.CreationTimestamp = name, types.UID(name), service, created
		return rp
	}
	a, b, c := at("a", "shop", t0), at("b", "shop", t1), at("c", "cart", t0)
	sameTime := at("0-first", "shop", t1)
	tests := []struct {
		name    string
		rp      v1alpha1.ReliabilityProfile
		ns      []v1alpha1.ReliabilityProfile
		refused string
	}{
		{"the only profile of a service is accepted", c, []v1alpha1.ReliabilityProfile{a, c}, ""},
		{"the oldest profile of a service keeps it", a, []v1alpha1.ReliabilityProfile{a, b}, ""},
		{"a younger profile of the same service is refused", b, []v1alpha1.ReliabilityProfile{a, b}, "a"},
		{"created in the same second, the name decides", b, []v1alpha1.ReliabilityProfile{sameTime, b}, "0-first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := duplicateService(&tt.rp, tt.ns)
			var dup *DuplicateServiceError
			switch {
			case tt.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.refused != "" && (!errors.As(err, &dup) || dup.Profile != tt.refused):
				t.Errorf("err = %v, want refused in favour of %s", err, tt.refused)
			}
		})
	}
}

func TestSetDisasterRecoveryStatus(t *testing.T) {
	rp := profileAt(1, v1alpha1.ModeEnforce)
	rp.Name, rp.Namespace = "api", "shop"
	rp.Spec.DisasterRecovery = &v1alpha1.DisasterRecoverySpec{RPO: "1h", RTO: "4h", Backup: &v1alpha1.BackupSpec{},
		LastRestoreTest: "2026-10-01", RestoreTestMaxAge: "90d"}
	setDisasterRecoveryStatus(rp, true)
	want := v1alpha1.DisasterRecoveryStatus{RPO: "1h", RTO: "4h", BackupSchedule: dr.ScheduleName("shop", "api") + " every 30m",
		LastRestoreTest: "2026-10-01", RestoreTestDue: "2026-12-30"}
	if got := rp.Status.DisasterRecovery; got == nil || *got != want {
		t.Errorf("status.disasterRecovery = %+v, want %+v", got, want)
	}
	setDisasterRecoveryStatus(rp, false)
	if got := rp.Status.DisasterRecovery; got == nil || got.BackupSchedule != "" || got.LastRestoreTest != "2026-10-01" {
		t.Errorf("without --velero-namespace no backup may be reported: %+v", got)
	}
	rp.Spec.DisasterRecovery = nil
	setDisasterRecoveryStatus(rp, true)
	if rp.Status.DisasterRecovery != nil {
		t.Errorf("a profile without a plan still reports one: %+v", rp.Status.DisasterRecovery)
	}
}
