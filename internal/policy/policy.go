// Package policy computes what a profile gets from the cluster's ReliabilityPolicy: one pure function,
// Apply, run once per reconcile (and by render, validate and report with --policy), whose result every
// renderer, status writer, check and webhook reads. Nothing of the policy is written into the stored
// profile, so a change of the policy reaches every profile that leaves the field out.
//
// Precedence, for each value: the profile's own field, then the policy, then the operator's flag, then the
// manifesto's default.
package policy

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// Effective is what a profile gets.
type Effective struct {
	// Profile is a copy of the profile with the policy's tier defaults in the fields it left empty; its
	// status is the profile's.
	Profile *v1alpha1.ReliabilityProfile
	// Render are the flags' render options with the policy's backends and labels over them.
	Render render.Options
	// MinObjective is the tier's lowest objective in percent; empty when the policy sets none.
	MinObjective string
}

// Apply is the profile under the policy (nil: no policy) and the flags' options. It never changes rp.
func Apply(rp *v1alpha1.ReliabilityProfile, pol *v1alpha1.ReliabilityPolicySpec, flags render.Options) Effective {
	out := Effective{Profile: rp.DeepCopy(), Render: Options(pol, flags)}
	if pol == nil {
		return out
	}
	spec := &out.Profile.Spec
	if t := tierPolicy(pol, spec.Tier); t != nil {
		out.MinObjective = t.MinObjective
		if t.MaxSpotFraction != "" && (spec.Placement == nil || spec.Placement.MaxSpotFraction == "") {
			if spec.Placement == nil {
				spec.Placement = &v1alpha1.PlacementSpec{}
			}
			spec.Placement.MaxSpotFraction = t.MaxSpotFraction
		}
		if d := spec.DisasterRecovery; d != nil && d.RestoreTestMaxAge == "" && t.RestoreTestMaxAge != "" {
			d.RestoreTestMaxAge = t.RestoreTestMaxAge
		}
		if d := spec.DisasterRecovery; d != nil && d.RPO == "" && t.RPO != "" {
			d.RPO = t.RPO
		}
	}
	// Logs follow their own tier, which may differ from the service's.
	logTier := spec.Tier
	if spec.Logs != nil && spec.Logs.Tier != "" {
		logTier = spec.Logs.Tier
	}
	if t := tierPolicy(pol, logTier); t != nil && t.LogRetentionDays != nil && (spec.Logs == nil || spec.Logs.RetentionDays == nil) {
		if spec.Logs == nil {
			spec.Logs = &v1alpha1.LogsSpec{}
		}
		days := *t.LogRetentionDays
		spec.Logs.RetentionDays = &days
	}
	if a := pol.Alerting; a != nil && (a.PageSeverity != "" || a.TicketSeverity != "") {
		for i := range spec.SLOs {
			al := spec.SLOs[i].Alerting
			if al == nil {
				al = &v1alpha1.SLOAlerting{}
				spec.SLOs[i].Alerting = al
			}
			if al.PageSeverity == "" {
				al.PageSeverity = a.PageSeverity
			}
			if al.TicketSeverity == "" {
				al.TicketSeverity = a.TicketSeverity
			}
		}
	}
	if m := pol.Monitoring; m != nil && m.Namespace != "" && spec.Network != nil && spec.Network.MonitoringNamespaceSelector == nil {
		spec.Network.MonitoringNamespaceSelector = &v1alpha1.LabelSelector{MatchLabels: map[string]string{
			"kubernetes.io/metadata.name": m.Namespace}}
	}
	return out
}

// Options are the render options under the policy: each backend or label set the policy gives replaces
// the flag's.
func Options(pol *v1alpha1.ReliabilityPolicySpec, flags render.Options) render.Options {
	o := flags
	if pol == nil {
		return o
	}
	if m := pol.Monitoring; m != nil && len(m.Labels) > 0 {
		o.MonitoringLabels = make(map[string]string, len(m.Labels))
		for k, v := range m.Labels {
			o.MonitoringLabels[k] = string(v)
		}
	}
	if a := pol.Alerting; a != nil && len(a.Labels) > 0 {
		o.AlertLabels = maps.Clone(a.Labels)
	}
	if b := pol.Backends; b != nil {
		if b.VeleroNamespace != "" {
			o.VeleroNamespace = b.VeleroNamespace
		}
		if out := b.LoggingClusterOutputs; out != nil {
			o.LoggingClusterOutputs = map[v1alpha1.Tier]string{v1alpha1.TierCritical: out.Critical, v1alpha1.TierNonCritical: out.NonCritical}
		}
		if b.GrafanaInstanceSelector != nil {
			o.GrafanaInstanceSelector = b.GrafanaInstanceSelector.Meta()
		}
	}
	return o
}

func tierPolicy(pol *v1alpha1.ReliabilityPolicySpec, tier v1alpha1.Tier) *v1alpha1.TierPolicy {
	switch tier {
	case v1alpha1.TierCritical:
		return pol.Tiers.Critical
	case v1alpha1.TierNonCritical:
		return pol.Tiers.NonCritical
	}
	return nil
}

// BelowMinimum lists the SLOs whose objective is below min, as "availability (99.5%)"; none when min is
// empty or does not parse.
func BelowMinimum(rp *v1alpha1.ReliabilityProfile, min string) []string {
	floor, err := strconv.ParseFloat(min, 64)
	if min == "" || err != nil {
		return nil
	}
	var below []string
	for _, s := range rp.Spec.SLOs {
		if o, err := strconv.ParseFloat(s.Objective, 64); err == nil && o < floor {
			below = append(below, fmt.Sprintf("%s (%s%%)", s.Name, s.Objective))
		}
	}
	return below
}

// Get reads the cluster's policy, the ReliabilityPolicy named default, through c (the operator's cache):
// nil when there is none, or when its CRD is not installed (an operator upgraded without its new CRD
// keeps working on its flags). A nil c, which the operator passes when it found the CRD not installed at
// start-up, reads nothing: no request for a kind the cluster does not serve.
func Get(ctx context.Context, c client.Reader) (*v1alpha1.ReliabilityPolicySpec, error) {
	if c == nil {
		return nil, nil
	}
	p := &v1alpha1.ReliabilityPolicy{}
	err := c.Get(ctx, client.ObjectKey{Name: v1alpha1.PolicyName}, p)
	switch {
	case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading ReliabilityPolicy %s: %w", v1alpha1.PolicyName, err)
	}
	return &p.Spec, nil
}
