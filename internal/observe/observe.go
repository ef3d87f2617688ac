// Package observe reads, at a bounded interval, what Prometheus knows about the profiles: each SLO's SLI,
// error budget remaining and 1h burn rate, and whether Prometheus has loaded the profile's rule groups
// (a PrometheusRule that exists but is never loaded, because the Prometheus ruleSelector does not match it,
// is the most reported failure of SLO tools). It keeps the last observation of each profile in memory and
// asks the controller to reconcile the profiles whose observation changed; the reconciler writes status.
//
// It also reads, for the manifesto's O-7 and O-8, how many of each service's scrape targets are up and
// whether the version metric a profile declares has series; which SLOInputAbsent and SLOThresholdNotABucket
// alerts are pending or firing (the SLOInputs condition); and, for R-3, the impact of each held game day
// whose window has ended (gamedays.go).
//
// One poll costs six instant queries (one more per 200 distinct version metric names) and one rules
// request for all profiles together, never one per profile and never one per reconcile; and two queries per
// held game day not measured yet, none once it is measured (the status keeps it).
//
// The SLO-window series (slo:sli_error:ratio_rate<window> and slo:error_budget_remaining:ratio, of which the
// observer reads the latter) are evaluated in their own group every --slo-window-interval, so an instant
// query, which looks back 5 minutes, can fall between two of their samples; they are read as
// last_over_time(<series>[L]) with L = max(10m, 2 × the window interval + 1m) (Lookback). The other series
// are evaluated at Prometheus' global interval and read at the instant.
package observe

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// SLOValues are the numbers of one SLO; nil when Prometheus has no value (no traffic yet, or rules not
// loaded).
type SLOValues struct {
	SLI, BudgetRemaining, BurnRate1h *float64
	// Groups is the number of groups of an SLO with groupBy that Prometheus reports (zero without groupBy);
	// the values are then those of the group with the least budget remaining, WorstGroup, written
	// "label=value,..." in the order of groupBy.
	Groups     int
	WorstGroup string
}

// Observation is what one poll found about one profile.
type Observation struct {
	At time.Time
	// Err is set when Prometheus could not be queried; nothing else is then known.
	Err string
	// SLOs by SLO name.
	SLOs map[string]SLOValues
	// MissingGroups are the rule groups of the profile's PrometheusRule that Prometheus has not loaded.
	MissingGroups []string
	// NoRule is true when the profile has no PrometheusRule (yet), so there is nothing to load.
	NoRule bool
	// Targets counts the service's scrape targets, by the up series of its namespace and service labels
	// (which the profile's ServiceMonitor sets); zero when Prometheus scrapes none.
	Targets Targets
	// VersionMetricSeries tells whether the profile's declared version metric (O-8) has a series of the
	// service; false when none is declared.
	VersionMetricSeries bool
	// InputAlerts are the profile's SLOInputAbsent and SLOThresholdNotABucket alerts, pending or firing, sorted.
	InputAlerts []InputAlert
	// GameDays are the held game days of the spec, in its order, measured or saying why not.
	GameDays []GameDayImpact
}

// Targets counts scrape targets: all of them, and those whose last scrape succeeded.
type Targets struct {
	Up, Total int
}

// Rule is what the observer needs of a profile's live PrometheusRule: prometheus-operator writes it to the
// file <namespace>-<name>-<uid>.yaml, with these groups.
type Rule struct {
	UID    string
	Groups []string
}

// Observer polls Prometheus. It implements manager.Runnable.
type Observer struct {
	API      promv1.API
	Interval time.Duration
	// WindowInterval is --slo-window-interval, how often the SLO-window rules are evaluated; zero is
	// slo.DefaultWindowInterval.
	WindowInterval time.Duration
	// Profiles lists the profiles to observe (the manager's cached client).
	Profiles client.Reader
	// Policies reads the cluster's ReliabilityPolicy (the cache), whose alerting.pageSeverity names the
	// paging alerts of a game day's time to first page; nil when its CRD is not installed.
	Policies client.Reader
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
	rules, err := o.liveRules(ctx)
	if err != nil {
		log.FromContext(ctx).Error(err, "Listing PrometheusRules to observe failed")
		return
	}
	found := o.Observe(ctx, list.Items, rules, time.Now())
	o.mu.Lock()
	var changed []client.ObjectKey
	for key, obs := range found {
		// Only a change of what was found costs a reconcile (and a status write); the time alone does not.
		if old, ok := o.observations[key]; !ok || !sameFindings(old, obs) {
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

// liveRules are the operator's PrometheusRules, by profile. Without prometheus-operator's CRD there are none.
func (o *Observer) liveRules(ctx context.Context) (map[client.ObjectKey]Rule, error) {
	list := &monitoringv1.PrometheusRuleList{}
	err := o.Profiles.List(ctx, list, client.MatchingLabels{render.ManagedByLabel: render.ManagedByValue})
	if meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[client.ObjectKey]Rule{}
	for _, r := range list.Items {
		profile := r.Labels[render.ProfileLabel]
		if profile == "" {
			continue
		}
		rule := Rule{UID: string(r.UID)}
		for _, g := range r.Spec.Groups {
			rule.Groups = append(rule.Groups, g.Name)
		}
		out[client.ObjectKey{Namespace: r.Namespace, Name: profile}] = rule
	}
	return out, nil
}

func sameFindings(a, b Observation) bool {
	return a.Err == b.Err && a.NoRule == b.NoRule && reflect.DeepEqual(a.SLOs, b.SLOs) &&
		reflect.DeepEqual(a.MissingGroups, b.MissingGroups) && a.Targets == b.Targets &&
		a.VersionMetricSeries == b.VersionMetricSeries && reflect.DeepEqual(a.InputAlerts, b.InputAlerts) &&
		reflect.DeepEqual(a.GameDays, b.GameDays)
}

// seriesKey identifies an SLO's series: its namespace, service and slo labels.
type seriesKey struct{ namespace, service, slo string }

// serviceKey identifies a service's series by their namespace and service labels.
type serviceKey struct{ namespace, service string }

// versionKey identifies the series of one metric of one service.
type versionKey struct{ metric, namespace, service string }

// answers is what one poll read from Prometheus.
type answers struct {
	slos     map[seriesKey][]groupValues
	inputs   map[serviceKey][]InputAlert
	groups   map[string][]string // loaded rule groups by file base name
	targets  map[serviceKey]Targets
	versions map[versionKey]bool
}

// Observe queries Prometheus once for all the given profiles, whose live PrometheusRules are given.
func (o *Observer) Observe(ctx context.Context, profiles []v1alpha1.ReliabilityProfile, rules map[client.ObjectKey]Rule, now time.Time) map[client.ObjectKey]Observation {
	out := map[client.ObjectKey]Observation{}
	found, err := o.query(ctx, profiles, now)
	o.mu.RLock()
	previous := o.observations
	o.mu.RUnlock()
	budget := measurementsPerPoll
	// The policy is read once a poll, and only when a game day is measured.
	var pol *v1alpha1.ReliabilityPolicySpec
	var polRead bool
	readPolicy := func() *v1alpha1.ReliabilityPolicySpec {
		if !polRead {
			polRead = true
			var err error
			if pol, err = policy.Get(ctx, o.Policies); err != nil {
				log.FromContext(ctx).Error(err, "Reading the ReliabilityPolicy for the page severity of game days failed; using the profiles' own")
			}
		}
		return pol
	}
	for _, rp := range profiles {
		if rp.DecodeError() != nil {
			continue // its SLOs are unknown; its status says why
		}
		key := client.ObjectKeyFromObject(&rp)
		obs := Observation{At: now}
		if err != nil {
			obs.Err = err.Error()
			out[key] = obs
			continue
		}
		for _, s := range rp.Spec.SLOs {
			if v, ok := worstGroup(found.slos[seriesKey{rp.Namespace, rp.Spec.Service, s.Name}], s.GroupBy); ok {
				if obs.SLOs == nil {
					obs.SLOs = map[string]SLOValues{}
				}
				obs.SLOs[s.Name] = v
			}
		}
		obs.InputAlerts = found.inputs[serviceKey{rp.Namespace, rp.Spec.Service}]
		obs.GameDays = o.gameDays(ctx, &rp, readPolicy, previous[key].GameDays, now, &budget)
		if rule, ok := rules[key]; ok {
			obs.MissingGroups = missingGroups(key, rule, found.groups)
		} else {
			obs.NoRule = true
		}
		obs.Targets = found.targets[serviceKey{rp.Namespace, rp.Spec.Service}]
		if m := rp.Spec.Metrics.VersionMetric; m != "" {
			obs.VersionMetricSeries = found.versions[versionKey{m, rp.Namespace, rp.Spec.Service}]
		}
		out[key] = obs
	}
	return out
}

// query reads the three series every SLO has, the loaded rule groups, the services' targets and the
// declared version metrics.
func (o *Observer) query(ctx context.Context, profiles []v1alpha1.ReliabilityProfile, now time.Time) (answers, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	vector := func(query string) (model.Vector, error) {
		v, _, _, err := o.API.Query(ctx, query, now)
		if err != nil {
			return nil, fmt.Errorf("querying %s from Prometheus: %w", query, err)
		}
		vec, _ := v.(model.Vector)
		return vec, nil
	}
	keyOf := func(m model.Metric) seriesKey {
		return seriesKey{string(m["namespace"]), string(m["service"]), string(m["slo"])}
	}
	var found answers
	// The budget is one per SLO, whatever its groups and, while the tier changes, its tiers.
	budgets, err := vector("max by (namespace, service, slo) (slo:error_budget:ratio)")
	if err != nil {
		return found, err
	}
	remaining, err := vector(fmt.Sprintf("last_over_time(slo:error_budget_remaining:ratio[%s])", model.Duration(slo.ReadLookback(o.WindowInterval))))
	if err != nil {
		return found, err
	}
	ratio1h, err := vector("slo:sli_error:ratio_rate1h")
	if err != nil {
		return found, err
	}
	found.slos = slosOf(budgets, remaining, ratio1h, keyOf)
	found.inputs, err = o.inputAlerts(ctx, now)
	if err != nil {
		return found, err
	}
	rules, err := o.API.Rules(ctx, nil)
	if err != nil {
		return found, fmt.Errorf("reading the rules Prometheus has loaded: %w", err)
	}
	found.groups = map[string][]string{}
	for _, g := range rules.Groups {
		file := filepath.Base(g.File)
		found.groups[file] = append(found.groups[file], g.Name)
	}
	// up is 1 for a target whose last scrape succeeded and 0 for one that failed.
	targets, err := vector(`count by (namespace, service) (up)`)
	if err != nil {
		return found, err
	}
	up, err := vector(`sum by (namespace, service) (up)`)
	if err != nil {
		return found, err
	}
	found.targets = map[serviceKey]Targets{}
	for _, s := range targets {
		found.targets[serviceKey{string(s.Metric["namespace"]), string(s.Metric["service"])}] = Targets{Total: int(s.Value)}
	}
	for _, s := range up {
		k := serviceKey{string(s.Metric["namespace"]), string(s.Metric["service"])}
		t := found.targets[k]
		t.Up = int(s.Value)
		found.targets[k] = t
	}
	found.versions = map[versionKey]bool{}
	for _, query := range versionQueries(profiles) {
		vec, err := vector(query)
		if err != nil {
			return found, err
		}
		for _, s := range vec {
			found.versions[versionKey{string(s.Metric[model.MetricNameLabel]), string(s.Metric["namespace"]), string(s.Metric["service"])}] = true
		}
	}
	return found, nil
}

// versionMetricsPerQuery bounds the names in one query's regular expression, so that a fleet of many
// version metrics asks in a few requests of bounded size rather than one unbounded one.
const versionMetricsPerQuery = 200

// versionQueries are the queries that find which namespaces and services have series of the declared
// version metrics: one per versionMetricsPerQuery distinct names, sorted so that the same fleet asks the
// same queries.
func versionQueries(profiles []v1alpha1.ReliabilityProfile) []string {
	seen := map[string]bool{}
	var names []string
	for _, rp := range profiles {
		if m := rp.Spec.Metrics.VersionMetric; m != "" && !seen[m] {
			seen[m] = true
			names = append(names, regexp.QuoteMeta(m))
		}
	}
	slices.Sort(names)
	var queries []string
	for chunk := range slices.Chunk(names, versionMetricsPerQuery) {
		queries = append(queries, fmt.Sprintf(`group by (__name__, namespace, service) ({__name__=~"%s"})`, strings.Join(chunk, "|")))
	}
	return queries
}

// missingGroups are the groups of the profile's live PrometheusRule that Prometheus has not loaded from the
// file prometheus-operator writes the rule to: <namespace>-<name>-<uid>.yaml (matched exactly: a prefix
// would confuse profile "api" with "api-canary").
func missingGroups(key client.ObjectKey, rule Rule, loaded map[string][]string) []string {
	file := fmt.Sprintf("%s-%s-%s.yaml", key.Namespace, key.Name, rule.UID)
	var missing []string
	for _, g := range rule.Groups {
		if !slices.Contains(loaded[file], g) {
			missing = append(missing, g)
		}
	}
	return missing
}

func isNumber(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func ptr(f float64) *float64 { return &f }
