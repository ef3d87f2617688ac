package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/gameday"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// PrometheusRule holds the service's SLO recording rules and burn-rate alerts, the manifesto's rules
// (target down, version metric absent, availability), built by internal/slo, and the disaster-recovery
// alerts (backup older than the RPO, restore drill overdue), built by internal/dr.
func PrometheusRule(rp *v1alpha1.ReliabilityProfile, opts Options) (*monitoringv1.PrometheusRule, error) {
	objectives, err := slo.Objectives(rp)
	if err != nil {
		return nil, err
	}
	groups, err := slo.Groups(slo.Service{
		Name: rp.Spec.Service, Namespace: rp.Namespace, Tier: string(rp.Spec.Tier),
		VersionMetric: rp.Spec.Metrics.VersionMetric, WindowInterval: opts.SLOWindowInterval,
		AlertLabels: opts.AlertLabels, Routing: rp.Spec.Routing,
	}, objectives)
	if err != nil {
		return nil, err
	}
	decorated := len(groups) // slo.Groups decorates its own groups, each SLO's with its groupBy in mind
	games, err := gameday.PlanOf(rp)
	if err != nil {
		return nil, err
	}
	if games != nil {
		groups = append(groups, gameday.Rules(*games))
	}
	plan, err := dr.PlanOf(rp)
	if err != nil {
		return nil, err
	}
	if plan != nil {
		if opts.VeleroNamespace == "" {
			plan.Backup = nil // no Schedule is rendered, so there is no backup to watch
		}
		if g := dr.Rules(*plan); g != nil {
			groups = append(groups, *g)
		}
	}
	// The game-day and disaster-recovery groups get the labels the manifesto group has. Decorating the SLO
	// groups again would give a grouped SLO's alerts the platform label it left out for its groupBy label.
	slo.Decorate(groups[decorated:], opts.AlertLabels, rp.Spec.Routing)
	return &monitoringv1.PrometheusRule{
		TypeMeta:   typeMeta(monitoringv1.SchemeGroupVersion.String(), monitoringv1.PrometheusRuleKind),
		ObjectMeta: childMeta(rp, opts.MonitoringLabels),
		Spec:       monitoringv1.PrometheusRuleSpec{Groups: groups},
	}, nil
}
