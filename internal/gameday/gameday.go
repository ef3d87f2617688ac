// Package gameday turns a profile's game-day record (R-3: "we run monthly gamedays ... the impact should be
// measured") into values and one Prometheus rule: GameDayOverdue, which fires once the last held game day
// ended longer ago than the cadence, or at once when none is recorded. Pure: the age is left to
// Prometheus' clock (time()), as internal/dr does for restore drills, so nothing here depends on when it
// runs. The observer (internal/observe) measures each held game day's impact; this package only says what a
// game day is.
package gameday

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// DefaultCadence applies when spec.gameDays.cadence is omitted (the CRD defaults it too): monthly.
const DefaultCadence = 30 * 24 * time.Hour

// OverdueAlert is the name of the alert that fires when a game day is due.
const OverdueAlert = "GameDayOverdue"

// Plan is a profile's game-day record, parsed.
type Plan struct {
	Service, Namespace, Tier string
	Cadence                  time.Duration
	// Held are the game days held, in the order of the spec.
	Held []Window
}

// Window is one held game day.
type Window struct {
	Name       string
	Start, End time.Time
}

// PlanOf parses spec.gameDays; nil when the profile has none.
func PlanOf(rp *v1alpha1.ReliabilityProfile) (*Plan, error) {
	g := rp.Spec.GameDays
	if g == nil {
		return nil, nil
	}
	p := &Plan{Service: rp.Spec.Service, Namespace: rp.Namespace, Tier: string(rp.Spec.Tier), Cadence: DefaultCadence}
	if g.Cadence != "" {
		days, err := strconv.Atoi(strings.TrimSuffix(g.Cadence, "d"))
		if err != nil || !strings.HasSuffix(g.Cadence, "d") || days <= 0 {
			return nil, fmt.Errorf("spec.gameDays.cadence: %q is not a number of days such as 30d", g.Cadence)
		}
		p.Cadence = time.Duration(days) * 24 * time.Hour
	}
	for i, h := range g.Held {
		start, err := time.Parse(time.RFC3339, h.Start)
		if err != nil {
			return nil, fmt.Errorf("spec.gameDays.held[%d].start: %q is not an RFC 3339 time such as 2026-11-12T14:00:00Z", i, h.Start)
		}
		end, err := time.Parse(time.RFC3339, h.End)
		if err != nil {
			return nil, fmt.Errorf("spec.gameDays.held[%d].end: %q is not an RFC 3339 time such as 2026-11-12T16:00:00Z", i, h.End)
		}
		if !end.After(start) {
			return nil, fmt.Errorf("spec.gameDays.held[%d].end: %s is not after its start %s", i, h.End, h.Start)
		}
		p.Held = append(p.Held, Window{Name: h.Name, Start: start.UTC(), End: end.UTC()})
	}
	return p, nil
}

// Last is the held game day that ended last, or nil when none is recorded.
func (p Plan) Last() *Window {
	var last *Window
	for i := range p.Held {
		if last == nil || p.Held[i].End.After(last.End) {
			last = &p.Held[i]
		}
	}
	return last
}

// Due is when the next game day is due, the last one's end plus the cadence, or nil when none is recorded
// (one is due now).
func (p Plan) Due() *time.Time {
	last := p.Last()
	if last == nil {
		return nil
	}
	due := last.End.Add(p.Cadence)
	return &due
}

// Rules is the game-day rule group of the service: GameDayOverdue, a ticket (as RestoreDrillOverdue), with
// the labels of the manifesto's other alerts. With no game day recorded it fires from the start: a profile
// that declares spec.gameDays declares the cadence, and a service that has never held one is past it.
func Rules(p Plan) monitoringv1.RuleGroup {
	lbls := map[string]string{"service": p.Service, "namespace": p.Namespace, "tier": p.Tier}
	cadence := days(p.Cadence)
	var r monitoringv1.Rule
	if due := p.Due(); due != nil {
		last := p.Last()
		r = slo.Alert(OverdueAlert, fmt.Sprintf("vector(time()) > %d", due.Unix()), 0, lbls, "ticket",
			fmt.Sprintf("The game day of %s is overdue", p.Service),
			fmt.Sprintf("The last game day of %s, %s, ended on %s; with a cadence of %s the next was due on %s (R-3: monthly game days, "+
				"their impact measured, their actions written down). Hold one, then add it to spec.gameDays.held with its window and actionsURL.",
				p.Service, last.Name, last.End.Format(time.RFC3339), cadence, due.Format(time.RFC3339)))
	} else {
		r = slo.Alert(OverdueAlert, "vector(1)", 0, lbls, "ticket",
			fmt.Sprintf("No game day of %s is recorded", p.Service),
			fmt.Sprintf("No game day recorded: spec.gameDays.held of %s is empty, and its cadence is %s (R-3: monthly game days, "+
				"their impact measured, their actions written down). Hold one, then add it to spec.gameDays.held with its window and actionsURL.",
				p.Service, cadence))
	}
	return monitoringv1.RuleGroup{Name: GroupName(p.Service), Rules: []monitoringv1.Rule{r}}
}

// GroupName is the name of the service's game-day rule group.
func GroupName(service string) string { return service + "-gamedays" }

func days(d time.Duration) string { return fmt.Sprintf("%dd", int(d.Hours()/24)) }
