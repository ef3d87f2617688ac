// Package logs turns profiles into log retention (O-5): 30 days for critical logs, 7 for non-critical, longer
// (up to a year) only with an O-5 exception, which the CRD checks. For Loki it builds one runtime overrides
// file for all profiles: a retention_stream entry per profile, selected by namespace and service. Pure and
// deterministic: the same profiles always give the same bytes, so an unchanged set costs no write.
package logs

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Retention is the log tier and retention of a profile.
func Retention(rp *v1alpha1.ReliabilityProfile) (v1alpha1.Tier, time.Duration) {
	tier := rp.Spec.Tier
	if rp.Spec.Logs != nil && rp.Spec.Logs.Tier != "" {
		tier = rp.Spec.Logs.Tier
	}
	days := 7
	if tier == v1alpha1.TierCritical {
		days = 30
	}
	if rp.Spec.Logs != nil && rp.Spec.Logs.RetentionDays != nil {
		days = int(*rp.Spec.Logs.RetentionDays)
	}
	return tier, time.Duration(days) * 24 * time.Hour
}

// StreamSelector is the LogQL selector of a profile's log streams.
func StreamSelector(rp *v1alpha1.ReliabilityProfile) string {
	return fmt.Sprintf(`{namespace=%q, service=%q}`, rp.Namespace, rp.Spec.Service)
}

// RuntimeConfigKey is the key of Loki's runtime configuration file in the ConfigMap.
const RuntimeConfigKey = "runtime-config.yaml"

type runtimeConfig struct {
	Overrides map[string]tenantLimits `json:"overrides"`
}

type tenantLimits struct {
	RetentionStream []RetentionStream `json:"retention_stream"`
}

// RetentionStream is one retention_stream entry of Loki's overrides.
type RetentionStream struct {
	Selector string `json:"selector"`
	Priority int    `json:"priority"`
	Period   string `json:"period"`
}

// LokiOverrides is Loki's runtime configuration file with one retention_stream entry per profile, for the
// tenant (single-tenant Loki uses "fake"), sorted by namespace and name. Profiles being deleted are left out.
// The held entries (see HeldStreams) follow, sorted by selector, unless a profile gave the same selector.
func LokiOverrides(profiles []v1alpha1.ReliabilityProfile, tenant string, held ...RetentionStream) ([]byte, error) {
	live := make([]v1alpha1.ReliabilityProfile, 0, len(profiles))
	for _, rp := range profiles {
		if rp.DeletionTimestamp.IsZero() {
			live = append(live, rp)
		}
	}
	sort.Slice(live, func(i, j int) bool {
		if live[i].Namespace != live[j].Namespace {
			return live[i].Namespace < live[j].Namespace
		}
		return live[i].Name < live[j].Name
	})
	streams := []RetentionStream{}
	rendered := map[string]bool{}
	for i := range live {
		_, retention := Retention(&live[i])
		streams = append(streams, RetentionStream{Selector: StreamSelector(&live[i]), Priority: 1,
			Period: fmt.Sprintf("%dh", int(retention.Hours()))})
		rendered[StreamSelector(&live[i])] = true
	}
	held = slices.Clone(held)
	sort.Slice(held, func(i, j int) bool { return held[i].Selector < held[j].Selector })
	for _, h := range held {
		if !rendered[h.Selector] {
			streams = append(streams, h)
			rendered[h.Selector] = true
		}
	}
	return yaml.Marshal(runtimeConfig{Overrides: map[string]tenantLimits{tenant: {RetentionStream: streams}}})
}

// HeldStreams are the tenant's entries of a live overrides file whose selectors are given: those of profiles
// the operator cannot read (stored under an older CRD), whose retention is kept as it was rather than
// dropped as if the profiles were gone.
func HeldStreams(live, tenant string, selectors map[string]bool) ([]RetentionStream, error) {
	var cfg runtimeConfig
	if err := yaml.Unmarshal([]byte(live), &cfg); err != nil {
		return nil, fmt.Errorf("reading the live %s: %w", RuntimeConfigKey, err)
	}
	var out []RetentionStream
	for _, s := range cfg.Overrides[tenant].RetentionStream {
		if selectors[s.Selector] {
			out = append(out, s)
		}
	}
	return out, nil
}
