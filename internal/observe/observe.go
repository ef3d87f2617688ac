// Package observe reads, at a bounded interval, what Prometheus knows about the profiles: each SLO's SLI,
// error budget remaining and 1h burn rate, and whether Prometheus has loaded the profile's rule groups
// (a PrometheusRule that exists but is never loaded, because the Prometheus ruleSelector does not match it,
// is the most reported failure of SLO tools). It keeps the last observation of each profile in memory and
// asks the controller to reconcile the profiles whose observation changed; the reconciler writes status.
//
// One poll costs three instant queries and one rules request for all profiles together, never one per
// profile and never one per reconcile.
package observe

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// SLOValues are the numbers of one SLO; nil when Prometheus has no value (no traffic yet, or rules not
// loaded).
type SLOValues struct {
	SLI, BudgetRemaining, BurnRate1h *float64
}

// Observation is what one poll found about one profile.
type Observation struct {
	At time.Time
	// Err is set when Prometheus could not be queried; nothing else is then known.
	Err string
	// SLOs by SLO name.
	SLOs map[string]SLOValues
	// MissingGroups are the rule groups of the profile that Prometheus has not loaded.
	MissingGroups []string
}

// Observer polls Prometheus. It implements manager.Runnable.
type Observer struct {
	API      promv1.API
	Interval time.Duration
	// Profiles lists the profiles to observe (the manager's cached client).
	Profiles client.Reader
	// Changed receives the profiles whose observation changed, for the controller to reconcile.
	Changed chan event.GenericEvent

	mu           sync.RWMutex
	observations map[client.ObjectKey]Observation
}

// New returns an Observer of the Prometheus at url.
func New(url string, interval time.Duration, profiles client.Reader) (*Observer, error) {
	if interval <= 0 {
		return nil, fmt.Errorf("--prometheus-interval must be positive, not %s", interval)
	}
	c, err := promapi.NewClient(promapi.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("--prometheus-url: %w", err)
	}
	return &Observer{API: promv1.NewAPI(c), Interval: interval, Profiles: profiles,
		Changed: make(chan event.GenericEvent, 64)}, nil
}

// For returns the last observation of a profile.
func (o *Observer) For(key client.ObjectKey) (Observation, bool) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	obs, ok := o.observations[key]
	return obs, ok
}

// NeedLeaderElection: only the leader writes status, so only the leader polls.
func (o *Observer) NeedLeaderElection() bool { return true }

// Start polls at once, then every Interval, until ctx ends.
func (o *Observer) Start(ctx context.Context) error {
	ticker := time.NewTicker(o.Interval)
	defer ticker.Stop()
	for {
		o.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

func (o *Observer) poll(ctx context.Context) {
	list := &v1alpha1.ReliabilityProfileList{}
	if err := o.Profiles.List(ctx, list); err != nil {
		log.FromContext(ctx).Error(err, "Listing profiles to observe failed")
		return
	}
	now := time.Now()
	found := o.Observe(ctx, list.Items, now)
	o.mu.Lock()
	var changed []client.ObjectKey
	for key, obs := range found {
		old, ok := o.observations[key]
		if !ok || !sameFindings(old, obs) || old.At != obs.At {
			changed = append(changed, key)
		}
	}
	o.observations = found
	o.mu.Unlock()
	for _, key := range changed {
		rp := &v1alpha1.ReliabilityProfile{}
		rp.Namespace, rp.Name = key.Namespace, key.Name
		select {
		case o.Changed <- event.GenericEvent{Object: rp}:
		case <-ctx.Done():
			return
		}
	}
}

func sameFindings(a, b Observation) bool {
	return a.Err == b.Err && reflect.DeepEqual(a.SLOs, b.SLOs) && reflect.DeepEqual(a.MissingGroups, b.MissingGroups)
}

// seriesKey identifies an SLO's series: its namespace, service and slo labels.
type seriesKey struct{ namespace, service, slo string }

// Observe queries Prometheus once for all the given profiles.
func (o *Observer) Observe(ctx context.Context, profiles []v1alpha1.ReliabilityProfile, now time.Time) map[client.ObjectKey]Observation {
	out := map[client.ObjectKey]Observation{}
	values, groups, err := o.query(ctx, now)
	for _, rp := range profiles {
		key := client.ObjectKeyFromObject(&rp)
		obs := Observation{At: now}
		if err != nil {
			obs.Err = err.Error()
			out[key] = obs
			continue
		}
		for _, s := range rp.Spec.SLOs {
			if v, ok := values[seriesKey{rp.Namespace, rp.Spec.Service, s.Name}]; ok {
				if obs.SLOs == nil {
					obs.SLOs = map[string]SLOValues{}
				}
				obs.SLOs[s.Name] = v
			}
		}
		obs.MissingGroups = missingGroups(&rp, groups)
		out[key] = obs
	}
	return out
}

// query reads the three series every SLO has and the loaded rule groups (file base name → group names).
func (o *Observer) query(ctx context.Context, now time.Time) (map[seriesKey]SLOValues, map[string][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	read := func(metric string) (map[seriesKey]float64, error) {
		v, _, _, err := o.API.Query(ctx, metric, now)
		if err != nil {
			return nil, fmt.Errorf("querying %s from Prometheus: %w", metric, err)
		}
		out := map[seriesKey]float64{}
		vec, _ := v.(model.Vector)
		for _, s := range vec {
			out[seriesKey{string(s.Metric["namespace"]), string(s.Metric["service"]), string(s.Metric["slo"])}] = float64(s.Value)
		}
		return out, nil
	}
	remaining, err := read("slo:error_budget_remaining:ratio")
	if err != nil {
		return nil, nil, err
	}
	budget, err := read("slo:error_budget:ratio")
	if err != nil {
		return nil, nil, err
	}
	ratio1h, err := read("slo:sli_error:ratio_rate1h")
	if err != nil {
		return nil, nil, err
	}
	values := map[seriesKey]SLOValues{}
	for k, b := range budget {
		var v SLOValues
		if r, ok := remaining[k]; ok && isNumber(r) {
			// remaining = 1 − errorRatio/budget, so the SLI over the window is 1 − (1 − remaining) × budget.
			v.BudgetRemaining, v.SLI = ptr(r), ptr(1-(1-r)*b)
		}
		if e, ok := ratio1h[k]; ok && isNumber(e) && b > 0 {
			v.BurnRate1h = ptr(e / b)
		}
		values[k] = v
	}
	rules, err := o.API.Rules(ctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the rules Prometheus has loaded: %w", err)
	}
	groups := map[string][]string{}
	for _, g := range rules.Groups {
		file := filepath.Base(g.File)
		groups[file] = append(groups[file], g.Name)
	}
	return values, groups, nil
}

// missingGroups are the profile's groups that no loaded rule file holds. prometheus-operator writes each
// PrometheusRule to a file named <namespace>-<name>-<uid>.yaml; a file of the profile's rule is one whose
// name starts with <namespace>-<name>.
func missingGroups(rp *v1alpha1.ReliabilityProfile, loaded map[string][]string) []string {
	want := []string{}
	for _, s := range rp.Spec.SLOs {
		want = append(want, fmt.Sprintf("%s-slo-%s", rp.Spec.Service, s.Name))
	}
	want = append(want, rp.Spec.Service+"-manifesto")
	prefix := rp.Namespace + "-" + rp.Name
	var missing []string
	for _, g := range want {
		found := false
		for file, names := range loaded {
			if strings.HasPrefix(file, prefix) && slices.Contains(names, g) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, g)
		}
	}
	return missing
}

func isNumber(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func ptr(f float64) *float64 { return &f }
