package slo

import (
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Objective is one SLO of a service, as plain values.
type Objective struct {
	Service, Name, Namespace, Tier string
	// Index is the SLO's position in spec.slos, to name its fields in errors as admission does.
	Index int
	// Target is the objective as a fraction, exactly as declared: "99.9" is 999/1000.
	Target *big.Rat
	// External is the external objective as a fraction, or nil.
	External  *big.Rat
	Window    time.Duration
	Ratio     *v1alpha1.RatioIndicator
	Latency   *v1alpha1.LatencyIndicator
	BoolGauge *v1alpha1.BoolGaugeIndicator
	PromQL    *v1alpha1.PromQLIndicator
	// GroupBy are the labels the SLO is split by (one SLO per value), in the profile's order; MaxGroups is the
	// number of groups above which SLOGroupsAboveBound fires.
	GroupBy   []string
	MaxGroups int
	// Routing is the SLO's own routing (spec.slos[].routing), and ProfileRouting the profile's
	// (spec.routing), which the SLO's wins over on the same key.
	Routing, ProfileRouting *v1alpha1.Routing
	// Tiers are the burn-rate alert tiers after defaults, scaling and overrides, in a stable order.
	Tiers      []Tier
	RunbookURL string
}

// Tier is one multi-window burn-rate alert.
type Tier struct {
	Name string
	// Path is the tier's place under spec.slos[].alerting: "tiers[1]" when the profile names it, "tiers" for
	// a default tier it leaves alone.
	Path        string
	Severity    string // the label value: page/ticket or the profile's rename
	BurnRate    *big.Rat
	Long, Short time.Duration
}

// minWindow is the shortest scaled window: rate() needs several scrapes inside its range.
const minWindow = 5 * time.Minute

// defaultWindow is the SLO window the default tiers are written for.
const defaultWindow = 30 * 24 * time.Hour

type defaultTier struct {
	name        string
	severity    v1alpha1.Severity
	burnRate    string
	long, short time.Duration
}

var defaultTiers = []defaultTier{
	{"page-fast", v1alpha1.SeverityPage, "14.4", time.Hour, 5 * time.Minute},
	{"page-slow", v1alpha1.SeverityPage, "6", 6 * time.Hour, 30 * time.Minute},
	{"ticket-fast", v1alpha1.SeverityTicket, "3", 24 * time.Hour, 2 * time.Hour},
	{"ticket-slow", v1alpha1.SeverityTicket, "1", 3 * 24 * time.Hour, 6 * time.Hour},
}

// Objectives returns the profile's SLOs as domain values. It fails on values the CRD would refuse, for the
// CLI's sake, which reads files no API server has checked.
func Objectives(rp *v1alpha1.ReliabilityProfile) ([]Objective, error) {
	if err := checkRouting("spec.routing", rp.Spec.Routing); err != nil {
		return nil, err
	}
	var out []Objective
	for i, s := range rp.Spec.SLOs {
		o, err := objectiveOf(rp, i, s)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Problems are every reason the profile's SLOs cannot be rendered, each naming its field, rather than the
// first one only: admission reports them all at once.
func Problems(rp *v1alpha1.ReliabilityProfile) []error {
	var errs []error
	for i, s := range rp.Spec.SLOs {
		if _, err := objectiveOf(rp, i, s); err != nil {
			errs = append(errs, err)
		}
		// The queries are checked whatever else is wrong with the SLO.
		for _, q := range indicatorQueries(i, s.Indicator) {
			if _, err := q.parse(); err != nil {
				errs = append(errs, err)
			}
		}
		errs = append(errs, expressionProblems(i, s, rp.Namespace)...)
	}
	return errs
}

// objectiveOf is the i-th SLO of the profile as a domain value.
func objectiveOf(rp *v1alpha1.ReliabilityProfile, i int, s v1alpha1.SLO) (Objective, error) {
	field := fmt.Sprintf("spec.slos[%d]", i)
	o := Objective{Service: rp.Spec.Service, Name: s.Name, Namespace: rp.Namespace, Tier: string(rp.Spec.Tier), Index: i,
		Ratio: s.Indicator.Ratio, Latency: s.Indicator.Latency, BoolGauge: s.Indicator.BoolGauge, PromQL: s.Indicator.PromQL,
		GroupBy: s.GroupBy, MaxGroups: v1alpha1.DefaultMaxGroups, Routing: s.Routing, ProfileRouting: rp.Spec.Routing}
	if s.MaxGroups != nil {
		o.MaxGroups = int(*s.MaxGroups)
	}
	var err error
	if o.Target, err = percent(s.Objective); err != nil {
		return Objective{}, fmt.Errorf("%s.objective: %w", field, err)
	}
	if o.Target.Cmp(big.NewRat(1, 1)) >= 0 || o.Target.Sign() <= 0 {
		return Objective{}, fmt.Errorf("%s.objective: %q must be above 0 and below 100", field, s.Objective)
	}
	if s.ExternalObjective != "" {
		if o.External, err = percent(s.ExternalObjective); err != nil {
			return Objective{}, fmt.Errorf("%s.externalObjective: %w", field, err)
		}
	}
	window := s.Window
	if window == "" {
		window = "30d"
	}
	w, err := model.ParseDuration(window)
	if err != nil || w <= 0 {
		return Objective{}, fmt.Errorf("%s.window: %q is not a duration such as 30d", field, window)
	}
	o.Window = time.Duration(w)
	if n := countSet(o.Ratio != nil, o.Latency != nil, o.BoolGauge != nil, o.PromQL != nil); n != 1 {
		return Objective{}, fmt.Errorf("%s.indicator: set exactly one of ratio, latency, boolGauge or promQL", field)
	}
	if err := checkGroupBy(field, s, rp.Spec.Routing); err != nil {
		return Objective{}, err
	}
	if err := checkRouting(field+".routing", s.Routing); err != nil {
		return Objective{}, err
	}
	if o.Tiers, err = tiers(s.Alerting, o.Window, o.Target); err != nil {
		return Objective{}, fmt.Errorf("%s.alerting.%w", field, err)
	}
	o.RunbookURL = runbookURL(rp, s.Alerting)
	return o, nil
}

func countSet(set ...bool) int {
	n := 0
	for _, b := range set {
		if b {
			n++
		}
	}
	return n
}

// checkGroupBy refuses what the CRD cannot see across fields: a groupBy label listed twice, one that is also
// a routing label (the group's value and the routing value would fight over one label), and maxGroups
// without groupBy. The CLI reads files no API server has checked, so the CRD's own rules are repeated here.
func checkGroupBy(field string, s v1alpha1.SLO, profileRouting *v1alpha1.Routing) error {
	if s.MaxGroups != nil && len(s.GroupBy) == 0 {
		return fmt.Errorf("%s.maxGroups: only applies with groupBy", field)
	}
	seen := map[string]bool{}
	for j, g := range s.GroupBy {
		if !model.LegacyValidation.IsValidLabelName(g) || strings.HasPrefix(g, "__") || slices.Contains(reservedLabels, g) {
			return fmt.Errorf("%s.groupBy[%d]: %q is not a label the SLO can be grouped by: a Prometheus label name, not starting with '__', other than the operator's own (%s)",
				field, j, g, strings.Join(reservedLabels, ", "))
		}
		if seen[g] {
			return fmt.Errorf("%s.groupBy[%d]: %q is listed twice", field, j, g)
		}
		seen[g] = true
		for path, r := range map[string]*v1alpha1.Routing{field + ".routing": s.Routing, "spec.routing": profileRouting} {
			if r != nil {
				if _, ok := r.Labels[g]; ok {
					return fmt.Errorf("%s.labels: %q is also in %s.groupBy: each group carries its own value of it", path, g, field)
				}
			}
		}
	}
	return nil
}

// checkRouting refuses a routing value Prometheus would expand as a template (a template can query any
// series, other tenants' included). The CRD refuses it too; this guards a cluster whose CRD is older than the
// operator, and the CLI.
func checkRouting(path string, r *v1alpha1.Routing) error {
	if r == nil {
		return nil
	}
	for _, kind := range []struct {
		name   string
		values map[string]string
	}{{"labels", r.Labels}, {"annotations", r.Annotations}} {
		for _, k := range sortedKeys(kind.values) {
			if strings.Contains(kind.values[k], "{{") || strings.Contains(k, "{{") {
				return fmt.Errorf("%s.%s[%s]: must not contain '{{': Prometheus would expand it as a template, which can read other tenants' series", path, kind.name, k)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// reservedLabels are the labels the operator sets on its series and alerts (and le, which histograms own).
var reservedLabels = []string{"service", "slo", "tier", "namespace", "severity", "burnrate_tier", "long_window", "short_window", "alertname", "alertstate", "le", "field"}

// tiers applies scaling and the profile's overrides to the default tiers. Errors start with the path of the
// tier under spec.slos[].alerting, such as "tiers[1].longWindow: ...".
func tiers(a *v1alpha1.SLOAlerting, window time.Duration, target *big.Rat) ([]Tier, error) {
	if a != nil && a.Disabled {
		return nil, nil
	}
	severity := map[v1alpha1.Severity]string{v1alpha1.SeverityPage: "page", v1alpha1.SeverityTicket: "ticket"}
	if a != nil && a.PageSeverity != "" {
		severity[v1alpha1.SeverityPage] = a.PageSeverity
	}
	if a != nil && a.TicketSeverity != "" {
		severity[v1alpha1.SeverityTicket] = a.TicketSeverity
	}
	type spec struct {
		severity    v1alpha1.Severity
		burnRate    string
		long, short time.Duration
		disabled    bool
		// path is the tier's place in spec.slos[].alerting.tiers when the profile names it, and which of
		// its fields the profile sets, so that an error names what the profile wrote.
		path                              string
		setsBurnRate, setsLong, setsShort bool
	}
	byName := map[string]*spec{}
	var order []string
	for _, d := range defaultTiers {
		byName[d.name] = &spec{severity: d.severity, burnRate: d.burnRate, long: scale(d.long, window), short: scale(d.short, window),
			path: "tiers"}
		order = append(order, d.name)
	}
	if a != nil {
		for i, o := range a.Tiers {
			s, ok := byName[o.Name]
			if !ok {
				s = &spec{}
				byName[o.Name] = s
				order = append(order, o.Name)
			}
			s.disabled = o.Disabled
			s.path = fmt.Sprintf("tiers[%d]", i)
			s.setsBurnRate, s.setsLong, s.setsShort = o.BurnRate != "", o.LongWindow != "", o.ShortWindow != ""
			if o.Severity != "" {
				s.severity = o.Severity
			}
			if o.BurnRate != "" {
				s.burnRate = o.BurnRate
			}
			for _, w := range []struct {
				field, in string
				out       *time.Duration
			}{{"longWindow", o.LongWindow, &s.long}, {"shortWindow", o.ShortWindow, &s.short}} {
				if w.in == "" {
					continue
				}
				d, err := model.ParseDuration(w.in)
				if err != nil || d <= 0 {
					return nil, fmt.Errorf("%s.%s: %q is not a duration such as 1h", s.path, w.field, w.in)
				}
				*w.out = time.Duration(d)
			}
		}
	}
	var out []Tier
	for _, name := range order {
		s := byName[name]
		if s.disabled {
			continue
		}
		if s.severity == "" || s.burnRate == "" || s.long == 0 || s.short == 0 {
			return nil, fmt.Errorf("%s: the new tier %s needs severity, burnRate, longWindow and shortWindow", s.path, name)
		}
		if s.short >= s.long {
			// Name the window the profile wrote: overriding only one of them can cross the other's default.
			field, short, long := "shortWindow", "", ""
			if s.setsLong && !s.setsShort {
				field, short = "longWindow", " (its default)"
			} else if s.setsShort && !s.setsLong {
				long = " (its default)"
			}
			return nil, fmt.Errorf("%s.%s: tier %s's shortWindow %s%s must be shorter than its longWindow %s%s; set both, such as longWindow: 1h and shortWindow: 5m",
				s.path, field, name, model.Duration(s.short), short, model.Duration(s.long), long)
		}
		if s.long > window {
			return nil, fmt.Errorf("%s.longWindow: tier %s's longWindow %s is longer than the SLO window %s; the alert would judge errors the SLO no longer counts",
				s.path, name, model.Duration(s.long), model.Duration(window))
		}
		br, ok := new(big.Rat).SetString(s.burnRate)
		if !ok || br.Sign() <= 0 {
			return nil, fmt.Errorf("%s.burnRate: %q must be a number above 0, such as \"14.4\"", s.path, s.burnRate)
		}
		// A burn rate above 1/(1 − target) needs an error ratio above 100%: the alert can never fire. A
		// default tier's burn rate is only reported as a warning (low objectives make the fast tiers moot).
		if budget := new(big.Rat).Sub(big.NewRat(1, 1), target); s.setsBurnRate && new(big.Rat).Mul(br, budget).Cmp(big.NewRat(1, 1)) > 0 {
			return nil, fmt.Errorf("%s.burnRate: tier %s can never fire: a burn rate of %s needs more than 100%% of requests to fail at an error budget of %s; at most %s",
				s.path, name, s.burnRate, decimal(budget), decimal(new(big.Rat).Inv(budget)))
		}
		out = append(out, Tier{Name: name, Path: s.path, Severity: severity[s.severity], BurnRate: br, Long: s.long, Short: s.short})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Long < out[j].Long })
	return out, nil
}

// scale keeps the share of the budget a default tier spends constant for SLO windows other than 30 days.
func scale(d, window time.Duration) time.Duration {
	if window == defaultWindow {
		return d
	}
	scaled := time.Duration(float64(d) * float64(window) / float64(defaultWindow)).Round(time.Minute)
	return max(scaled, minWindow)
}

func runbookURL(rp *v1alpha1.ReliabilityProfile, a *v1alpha1.SLOAlerting) string {
	if a != nil && a.RunbookURL != "" {
		return a.RunbookURL
	}
	if dr := rp.Spec.DisasterRecovery; dr != nil {
		return dr.RunbookURL
	}
	return ""
}

// percent parses "99.9" into 999/1000, exactly.
func percent(s string) (*big.Rat, error) {
	r, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return nil, fmt.Errorf("%q is not a percentage such as \"99.9\"", s)
	}
	return r.Quo(r, big.NewRat(100, 1)), nil
}

// decimal prints an exact fraction the shortest way: 1/1000 as "0.001", 72/5 as "14.4".
func decimal(r *big.Rat) string {
	s := r.FloatString(12)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// ErrorBudget is 1 − target.
func (o Objective) ErrorBudget() *big.Rat { return new(big.Rat).Sub(big.NewRat(1, 1), o.Target) }
