package policy

import (
	"reflect"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

func platformPolicy() *v1alpha1.ReliabilityPolicySpec {
	return &v1alpha1.ReliabilityPolicySpec{
		Tiers: v1alpha1.TierPolicies{
			Critical:    &v1alpha1.TierPolicy{LogRetentionDays: ptr.To[int32](45), MaxSpotFraction: "0", MinObjective: "99.9", RestoreTestMaxAge: "30d", RPO: "1h"},
			NonCritical: &v1alpha1.TierPolicy{LogRetentionDays: ptr.To[int32](14), MaxSpotFraction: "0.3", MinObjective: "99"},
		},
		Monitoring: &v1alpha1.MonitoringPolicy{Labels: map[string]v1alpha1.LabelValue{"release": "kps"}, Namespace: "observability"},
		Alerting:   &v1alpha1.AlertingPolicy{Labels: map[string]string{"cluster": "prod-eu"}, PageSeverity: "critical"},
		Backends: &v1alpha1.BackendsPolicy{VeleroNamespace: "backups",
			LoggingClusterOutputs:   &v1alpha1.TierOutputs{Critical: "long", NonCritical: "short"},
			GrafanaInstanceSelector: &v1alpha1.LabelSelector{MatchLabels: map[string]string{"dashboards": "platform"}}},
	}
}

func critical() *v1alpha1.ReliabilityProfile {
	rp := &v1alpha1.ReliabilityProfile{}
	rp.Name, rp.Namespace = "checkout", "shop"
	rp.Spec = v1alpha1.ReliabilityProfileSpec{Service: "checkout", Tier: v1alpha1.TierCritical,
		Network: &v1alpha1.NetworkSpec{}, DisasterRecovery: &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks/checkout"},
		SLOs: []v1alpha1.SLO{{Name: "availability", Objective: "99.5"}, {Name: "latency", Objective: "99.95"}}}
	return rp
}

// The policy fills what the profile leaves out, and nothing it sets; the stored profile is not changed.
func TestThePolicyFillsWhatTheProfileLeavesOut(t *testing.T) {
	rp := critical()
	stored := rp.DeepCopy()
	eff := Apply(rp, platformPolicy(), render.Options{VeleroNamespace: "velero", MonitoringLabels: map[string]string{"release": "flag"}})
	if !reflect.DeepEqual(rp, stored) {
		t.Fatal("Apply changed the stored profile")
	}
	spec := eff.Profile.Spec
	if spec.Placement == nil || spec.Placement.MaxSpotFraction != "0" {
		t.Errorf("maxSpotFraction %+v, want the critical tier's 0", spec.Placement)
	}
	if spec.Logs == nil || spec.Logs.RetentionDays == nil || *spec.Logs.RetentionDays != 45 {
		t.Errorf("log retention %+v, want the critical tier's 45 days", spec.Logs)
	}
	if spec.DisasterRecovery.RPO != "1h" {
		t.Errorf("rpo %q, want the tier's 1h", spec.DisasterRecovery.RPO)
	}
	if spec.DisasterRecovery.RestoreTestMaxAge != "30d" {
		t.Errorf("restoreTestMaxAge %q, want the tier's 30d", spec.DisasterRecovery.RestoreTestMaxAge)
	}
	if got := spec.Network.MonitoringNamespaceSelector; got == nil || got.MatchLabels["kubernetes.io/metadata.name"] != "observability" {
		t.Errorf("monitoring namespace selector %+v, want the policy's observability", got)
	}
	for _, s := range spec.SLOs {
		if s.Alerting == nil || s.Alerting.PageSeverity != "critical" || s.Alerting.TicketSeverity != "" {
			t.Errorf("SLO %s alerting %+v, want the policy's page severity and no ticket severity", s.Name, s.Alerting)
		}
	}
	if eff.MinObjective != "99.9" {
		t.Errorf("min objective %q, want 99.9", eff.MinObjective)
	}
	o := eff.Render
	if o.VeleroNamespace != "backups" || o.MonitoringLabels["release"] != "kps" || o.AlertLabels["cluster"] != "prod-eu" ||
		o.LoggingClusterOutputs[v1alpha1.TierCritical] != "long" || o.GrafanaInstanceSelector.MatchLabels["dashboards"] != "platform" {
		t.Errorf("render options %+v: want the policy's backends and labels over the flags", o)
	}

	// The profile's own fields win.
	rp.Spec.Placement = &v1alpha1.PlacementSpec{MaxSpotFraction: "0.1"}
	rp.Spec.Logs = &v1alpha1.LogsSpec{RetentionDays: ptr.To[int32](60)}
	rp.Spec.DisasterRecovery.RestoreTestMaxAge = "90d"
	rp.Spec.DisasterRecovery.RPO = "4h"
	rp.Spec.Network.MonitoringNamespaceSelector = &v1alpha1.LabelSelector{MatchLabels: map[string]string{"team": "obs"}}
	rp.Spec.SLOs[0].Alerting = &v1alpha1.SLOAlerting{PageSeverity: "sev1"}
	spec = Apply(rp, platformPolicy(), render.Options{}).Profile.Spec
	if spec.SLOs[0].Alerting.PageSeverity != "sev1" {
		t.Errorf("page severity %q, want the SLO's own sev1", spec.SLOs[0].Alerting.PageSeverity)
	}
	if spec.Placement.MaxSpotFraction != "0.1" || *spec.Logs.RetentionDays != 60 || spec.DisasterRecovery.RestoreTestMaxAge != "90d" || spec.DisasterRecovery.RPO != "4h" ||
		spec.Network.MonitoringNamespaceSelector.MatchLabels["team"] != "obs" {
		t.Errorf("the profile's own values were replaced: %+v", spec)
	}
}

// Logs follow the log tier, which may differ from the service's tier.
func TestLogRetentionFollowsTheLogTier(t *testing.T) {
	rp := critical()
	rp.Spec.Logs = &v1alpha1.LogsSpec{Tier: v1alpha1.TierNonCritical}
	if d := Apply(rp, platformPolicy(), render.Options{}).Profile.Spec.Logs.RetentionDays; d == nil || *d != 14 {
		t.Errorf("retention %v, want the non-critical tier's 14 days", d)
	}
}

// Without a policy, or with an empty one, the profile and the flags are what there is.
func TestWithoutAPolicyTheFlagsDecide(t *testing.T) {
	flags := render.Options{VeleroNamespace: "velero", MonitoringLabels: map[string]string{"release": "flag"}}
	for _, pol := range []*v1alpha1.ReliabilityPolicySpec{nil, {}} {
		eff := Apply(critical(), pol, flags)
		if !reflect.DeepEqual(eff.Profile.Spec, critical().Spec) || !reflect.DeepEqual(eff.Render, flags) || eff.MinObjective != "" {
			t.Errorf("policy %+v changed something: %+v", pol, eff)
		}
	}
}

func TestBelowMinimumNamesTheSLOsUnderTheFloor(t *testing.T) {
	if got := BelowMinimum(critical(), "99.9"); !reflect.DeepEqual(got, []string{"availability (99.5%)"}) {
		t.Errorf("below 99.9: %v", got)
	}
	if got := BelowMinimum(critical(), ""); got != nil {
		t.Errorf("no minimum: %v", got)
	}
}
