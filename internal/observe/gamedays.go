package observe

import (
	"context"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/gameday"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// GameDayImpact is the measured impact of one held game day (R-3: "the impact should be measured"), read
// from Prometheus once, after its window has ended and settled.
//
// The error budget spent by an SLO is the window's error ratio as a burn rate, times the window's share of
// the SLO window:
//
//	spent = (Σ slo:sli_errors:rate5m / Σ slo:sli_requests:rate5m) / (1 − objective) × (end − start) / SLO window
//
// with both sums over the recorded samples in (start, end] (sum_over_time at end, summed over the SLO's
// groups and tiers). It is exact with the recorded series (the interval between their samples cancels
// out, as in the SLO-window ratio), traffic-weighted within the window, and equals the share of the SLO
// window's error budget the game day spent when the window's traffic is the window's usual rate: 1 is the
// whole budget of the SLO window. The 5m rates make the measure start up to 5 minutes before start.
type GameDayImpact struct {
	Name string
	// Window is "<start>/<end>" in RFC 3339 (UTC): the window measured.
	Window string
	// BudgetSpent is each SLO's share of its SLO window's error budget spent, by SLO name; an SLO without
	// requests recorded in the window is absent.
	BudgetSpent map[string]float64
	// AlertsFired are the alerts of the service that fired during the window, "Name{label=value,...}" with
	// the labels that tell them apart, sorted: not namespace, service, tier, alertstate, long_window and
	// short_window (burnrate_tier names them), nor the profile's routing labels, the same on every alert. The
	// alerts about the record rather than the service (GameDayOverdue, RestoreDrillOverdue) are left out.
	AlertsFired []string
	// TimeToFirstPage is how long after the start the first alert with a page severity fired (page, and the
	// SLOs' spec.slos[].alerting.pageSeverity or the ReliabilityPolicy's); nil when none did.
	TimeToFirstPage *time.Duration
	// MeasuredAt is when Prometheus was read; zero while the game day is not measured.
	MeasuredAt time.Time
	// Message says why the game day is not measured, or what was missing when it was.
	Message string
	// Kept is true when status.gameDays already holds this window's measurement: nothing was read, and the
	// status entry stays as it is.
	Kept bool
}

// Measured tells whether the impact was read, and so is kept rather than read again.
func (g GameDayImpact) Measured() bool { return !g.MeasuredAt.IsZero() }

// GameDaySettle is how long after a game day's end the observer waits before measuring it: the 5m rates of
// its last minutes must be recorded, and the alerts of its end evaluated.
const GameDaySettle = 10 * time.Minute

// measurementsPerPoll bounds the game days measured in one poll (two queries each), so that a fleet that
// records many game days at once is measured over a few polls rather than in one burst.
const measurementsPerPoll = 20

// notMeasured alerts: they are about the record of drills and game days, not about the service.
var notMeasured = map[string]bool{gameday.OverdueAlert: true, "RestoreDrillOverdue": true}

// WindowOf is the "<start>/<end>" of a game day, as GameDayImpact and status.gameDays[].window write it.
func WindowOf(w gameday.Window) string {
	return w.Start.UTC().Format(time.RFC3339) + "/" + w.End.UTC().Format(time.RFC3339)
}

// gameDays are the profile's held game days: those measured before (in status, or in the previous
// observation) are carried over without a query; those whose window has ended and settled are measured,
// up to *budget of them.
func (o *Observer) gameDays(ctx context.Context, rp *v1alpha1.ReliabilityProfile, pol func() *v1alpha1.ReliabilityPolicySpec, previous []GameDayImpact, now time.Time, budget *int) []GameDayImpact {
	plan, err := gameday.PlanOf(rp)
	if err != nil || plan == nil {
		return nil // an error is the render's to report
	}
	var out []GameDayImpact
	for _, w := range plan.Held {
		window := WindowOf(w)
		impact := GameDayImpact{Name: w.Name, Window: window}
		same := func(p GameDayImpact) bool { return p.Name == w.Name && p.Window == window && p.Measured() }
		switch {
		case slices.ContainsFunc(previous, same):
			impact = previous[slices.IndexFunc(previous, same)]
		case measuredInStatus(rp, w.Name, window):
			impact.Kept = true // the status holds it; nothing is read again
		case now.Before(w.End.Add(GameDaySettle)):
			impact.Message = fmt.Sprintf("Not measured yet: the window ends at %s, and is measured %s later.",
				w.End.Format(time.RFC3339), model.Duration(GameDaySettle))
		case *budget <= 0:
			impact.Message = fmt.Sprintf("Not measured yet: at most %d game days are measured per poll.", measurementsPerPoll)
		default:
			*budget--
			impact = o.measure(ctx, rp, pol(), w, now)
		}
		out = append(out, impact)
	}
	return out
}

// measuredInStatus tells whether status.gameDays holds a measurement of this window of the game day.
func measuredInStatus(rp *v1alpha1.ReliabilityProfile, name, window string) bool {
	for _, g := range rp.Status.GameDays {
		if g.Name == name && g.Window == window && g.MeasuredAt != nil {
			return true
		}
	}
	return false
}

// measure reads one game day's impact: one query for every SLO's budget spent, one for the alerts that
// fired.
func (o *Observer) measure(ctx context.Context, rp *v1alpha1.ReliabilityProfile, pol *v1alpha1.ReliabilityPolicySpec, w gameday.Window, now time.Time) GameDayImpact {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	impact := GameDayImpact{Name: w.Name, Window: WindowOf(w)}
	length := w.End.Sub(w.Start)
	rng := model.Duration(length).String()
	sel := fmt.Sprintf(`namespace=%q,service=%q`, rp.Namespace, rp.Spec.Service)
	query := fmt.Sprintf(`sum by (slo) (sum_over_time(slo:sli_errors:rate5m{%s}[%s])) / sum by (slo) (sum_over_time(slo:sli_requests:rate5m{%s}[%s]))`,
		sel, rng, sel, rng)
	v, _, _, err := o.API.Query(ctx, query, w.End)
	if err != nil {
		impact.Message = fmt.Sprintf("Not measured yet: querying %s from Prometheus: %v", query, err)
		return impact
	}
	ratios := map[string]float64{}
	if vec, ok := v.(model.Vector); ok {
		for _, s := range vec {
			ratios[string(s.Metric["slo"])] = float64(s.Value)
		}
	}
	objectives, err := slo.Objectives(rp)
	if err != nil {
		impact.Message = fmt.Sprintf("Not measured yet: %v", err)
		return impact
	}
	var noData []string
	for _, ob := range objectives {
		r, ok := ratios[ob.Name]
		budget, _ := ob.ErrorBudget().Float64()
		if !ok || !isNumber(r) || budget <= 0 {
			noData = append(noData, ob.Name)
			continue
		}
		if impact.BudgetSpent == nil {
			impact.BudgetSpent = map[string]float64{}
		}
		share, _ := new(big.Rat).SetFrac64(int64(length/time.Second), int64(ob.Window/time.Second)).Float64()
		impact.BudgetSpent[ob.Name] = r / budget * share
	}

	alerts := fmt.Sprintf(`ALERTS{%s,alertstate="firing"}[%s]`, sel, rng)
	v, _, _, err = o.API.Query(ctx, alerts, w.End)
	if err != nil {
		impact.Message = fmt.Sprintf("Not measured yet: querying %s from Prometheus: %v", alerts, err)
		impact.BudgetSpent = nil
		return impact
	}
	// The policy's page severity applies to the SLOs that name none, as when their alerts were rendered.
	pages, same := pageSeverities(policy.Apply(rp, pol, render.Options{}).Profile), routingLabels(rp)
	fired := map[string]bool{}
	var firstPage *time.Time
	if m, ok := v.(model.Matrix); ok {
		for _, s := range m {
			name := string(s.Metric[model.AlertNameLabel])
			if notMeasured[name] || len(s.Values) == 0 {
				continue
			}
			fired[alertName(s.Metric, same)] = true
			if pages[string(s.Metric["severity"])] {
				if t := s.Values[0].Timestamp.Time(); firstPage == nil || t.Before(*firstPage) {
					firstPage = &t
				}
			}
		}
	}
	impact.AlertsFired = slices.Sorted(maps.Keys(fired))
	if firstPage != nil {
		d := max(firstPage.Sub(w.Start), 0)
		impact.TimeToFirstPage = &d
	}
	impact.MeasuredAt = now
	if len(noData) > 0 {
		impact.Message = fmt.Sprintf("Prometheus has no requests of the SLO(s) %s recorded during the window (slo:sli_requests:rate5m{%s}): "+
			"no traffic, rules not loaded then, or samples older than Prometheus' retention.", strings.Join(noData, ", "), sel)
	}
	return impact
}

// pageSeverities are the severity label values of the profile's paging alerts: each SLO's pageSeverity, and
// page, which the manifesto's and disaster-recovery alerts use.
func pageSeverities(rp *v1alpha1.ReliabilityProfile) map[string]bool {
	out := map[string]bool{string(v1alpha1.SeverityPage): true}
	for _, s := range rp.Spec.SLOs {
		if a := s.Alerting; a != nil && a.PageSeverity != "" {
			out[a.PageSeverity] = true
		}
	}
	return out
}

// routingLabels are the label names spec.routing and spec.slos[].routing add to the profile's alerts.
func routingLabels(rp *v1alpha1.ReliabilityProfile) map[model.LabelName]bool {
	out := map[model.LabelName]bool{}
	add := func(r *v1alpha1.Routing) {
		if r != nil {
			for k := range r.Labels {
				out[model.LabelName(k)] = true
			}
		}
	}
	add(rp.Spec.Routing)
	for _, s := range rp.Spec.SLOs {
		add(s.Routing)
	}
	return out
}

// alertName is "Name{label=value,...}" with the labels that tell the service's alerts apart.
func alertName(m model.Metric, leaveOut map[model.LabelName]bool) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		switch k {
		case model.AlertNameLabel, model.MetricNameLabel, "namespace", "service", "tier", "alertstate", "long_window", "short_window":
			continue
		}
		if leaveOut[k] {
			continue
		}
		parts = append(parts, string(k)+"="+string(m[k]))
	}
	return string(m[model.AlertNameLabel]) + "{" + strings.Join(parts, ",") + "}"
}
