package controllers

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

func TestSetPlacementStatus(t *testing.T) {
	half, _ := placement.ParseLimit("0.5")
	policy := placement.Policy{Limit: half, SpotLabels: placement.DefaultSpotNodeLabels}
	cases := []struct {
		name        string
		obs         placement.Observation
		audit       bool
		records     []webhook.AuditRecord
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage []string
	}{
		{"no pod runs yet", placement.Observation{}, false, nil,
			metav1.ConditionTrue, v1alpha1.WithinSpotLimitReason, []string{"No pod", "0.5", "P-3"}},
		{"half on spot is within a limit of one half", placement.Observation{Spot: 5, Total: 10}, false, nil,
			metav1.ConditionTrue, v1alpha1.WithinSpotLimitReason, []string{"5 of 10", "0.50"}},
		{"pods with their own affinity are named as the cause", placement.Observation{Spot: 3, Total: 4, OwnAffinity: 2}, false, nil,
			metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason, []string{"3 of 4", "0.75", "2 pods choose spot by their own affinity"}},
		{"pods waiting for a node are named as the cause", placement.Observation{Spot: 1, Total: 1, Unbound: 1}, false, nil,
			metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason, []string{"1 pods are not on a node yet"}},
		{"Audit mode is named as the cause and its verdicts are reported", placement.Observation{Spot: 2, Total: 2, Unplaced: 2}, true,
			[]webhook.AuditRecord{
				{Pod: "web-*", Decision: placement.Decision{Outcome: placement.SpotEligible, Reason: "first"}, Time: t0.Time},
				{Pod: "web-*", Decision: placement.Decision{Outcome: placement.OnDemand, Reason: "second"}, Time: t1.Time},
			},
			metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason, []string{"Audit mode"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rp := profileAt(1, v1alpha1.ModeEnforce)
			p := policy
			p.Audit = c.audit
			setPlacementStatus(rp, p, c.obs, c.records, t0)
			wantCondition(t, rp, v1alpha1.SpotWithinLimitCondition, c.wantStatus, c.wantReason)
			msg := conditionMessage(rp, v1alpha1.SpotWithinLimitCondition)
			for _, w := range c.wantMessage {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			ps := rp.Status.Placement
			if ps.Spot != c.obs.Spot || ps.Total != c.obs.Total || ps.Fraction != c.obs.Fraction() || ps.Limit != "0.5" || len(ps.SpotNodeLabels) != 4 {
				t.Errorf("status.placement %+v", ps)
			}
			if c.audit != (ps.LastAudit != "") {
				t.Errorf("lastAudit %q in audit=%v", ps.LastAudit, c.audit)
			}
			if c.audit && (!strings.Contains(ps.LastAudit, "on-demand: second") || !ps.LastAuditTime.Equal(&t1)) {
				t.Errorf("lastAudit %q at %v is not the last record", ps.LastAudit, ps.LastAuditTime)
			}
		})
	}

	t.Run("the same observation again changes nothing, so no status is written", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeAudit)
		p := policy
		p.Audit = true
		setPlacementStatus(rp, p, placement.Observation{Spot: 1, Total: 4}, []webhook.AuditRecord{{Pod: "a", Time: t0.Time}}, t0)
		before := rp.Status.DeepCopy()
		setPlacementStatus(rp, p, placement.Observation{Spot: 1, Total: 4}, nil, t1)
		if !equality.Semantic.DeepEqual(before, &rp.Status) {
			t.Errorf("status changed:\nbefore %+v\nafter  %+v", before, rp.Status)
		}
	})
	t.Run("a placement the webhook cannot apply is Unknown and says the pods are not placed", func(t *testing.T) {
		rp := profileAt(1, v1alpha1.ModeEnforce)
		setPlacementStatus(rp, policy, placement.Observation{Spot: 1, Total: 2}, nil, t0)
		setInvalidPlacementStatus(rp, errors.New("spec.placement.spotNodeLabel example..com/spot=true: bad"), t1)
		wantCondition(t, rp, v1alpha1.SpotWithinLimitCondition, metav1.ConditionUnknown, v1alpha1.InvalidPlacementReason)
		if rp.Status.Placement != nil || !strings.Contains(conditionMessage(rp, v1alpha1.SpotWithinLimitCondition), "not enforced") {
			t.Errorf("placement %+v, message %q", rp.Status.Placement, conditionMessage(rp, v1alpha1.SpotWithinLimitCondition))
		}
	})
}

func conditionMessage(rp *v1alpha1.ReliabilityProfile, condType string) string {
	for _, c := range rp.Status.Conditions {
		if c.Type == condType {
			return c.Message
		}
	}
	return ""
}
