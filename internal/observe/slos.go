package observe

import (
	"maps"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
)

// groupValues are the values of one series of an SLO: one per SLO without groupBy, one per group with it.
type groupValues struct {
	labels model.Metric
	values SLOValues
}

// slosOf joins the three readings by SLO (namespace, service, slo) and, within an SLO, by the rest of the
// labels but tier (the group labels, when the SLO has groupBy; none otherwise).
func slosOf(budgets, remaining, ratio1h model.Vector, keyOf func(model.Metric) seriesKey) map[seriesKey][]groupValues {
	budget := map[seriesKey]float64{}
	for _, s := range budgets {
		budget[keyOf(s.Metric)] = float64(s.Value)
	}
	out := map[seriesKey][]groupValues{}
	index := map[seriesKey]map[string]int{}
	at := func(m model.Metric) *groupValues {
		k := keyOf(m)
		labels := groupLabels(m)
		id := labels.String()
		if index[k] == nil {
			index[k] = map[string]int{}
		}
		i, ok := index[k][id]
		if !ok {
			i = len(out[k])
			index[k][id] = i
			out[k] = append(out[k], groupValues{labels: labels})
		}
		return &out[k][i]
	}
	for _, s := range remaining {
		b, ok := budget[keyOf(s.Metric)]
		if r := float64(s.Value); ok && isNumber(r) {
			// remaining = 1 − errorRatio/budget, so the SLI over the window is 1 − (1 − remaining) × budget.
			g := at(s.Metric)
			g.values.BudgetRemaining, g.values.SLI = ptr(r), ptr(1-(1-r)*b)
		}
	}
	for _, s := range ratio1h {
		b, ok := budget[keyOf(s.Metric)]
		if e := float64(s.Value); ok && isNumber(e) && b > 0 {
			at(s.Metric).values.BurnRate1h = ptr(e / b)
		}
	}
	// An SLO with a budget but no other value yet is known, without values (no traffic yet).
	for k := range budget {
		if _, ok := out[k]; !ok {
			out[k] = []groupValues{{}}
		}
	}
	return out
}

// groupLabels are the labels of an SLO series that tell its groups apart: all but the operator's own.
func groupLabels(m model.Metric) model.Metric {
	out := model.Metric{}
	for k, v := range m {
		switch k {
		case model.MetricNameLabel, "namespace", "service", "slo", "tier":
		default:
			out[k] = v
		}
	}
	return out
}

// worstGroup is an SLO's values: without groupBy, those of its one series; with groupBy, those of the group
// with the least budget remaining (a group without a budget yet is never the worst), the number of groups
// and the worst group's name. False when Prometheus has nothing of the SLO.
func worstGroup(series []groupValues, groupBy []string) (SLOValues, bool) {
	if len(series) == 0 {
		return SLOValues{}, false
	}
	if len(groupBy) == 0 {
		// One series each; should their labels differ (a label added to one), their values still join.
		var v SLOValues
		for _, s := range series {
			v.SLI, v.BudgetRemaining = first(v.SLI, s.values.SLI), first(v.BudgetRemaining, s.values.BudgetRemaining)
			v.BurnRate1h = first(v.BurnRate1h, s.values.BurnRate1h)
		}
		return v, true
	}
	groups := map[string]groupValues{}
	for _, s := range series {
		if len(s.labels) == 0 {
			continue // the SLO's budget alone: no group has values yet
		}
		groups[groupName(s.labels, groupBy)] = s
	}
	var worst SLOValues
	var name string
	for _, n := range slices.Sorted(maps.Keys(groups)) {
		b := groups[n].values.BudgetRemaining
		if name == "" || (b != nil && (worst.BudgetRemaining == nil || *b < *worst.BudgetRemaining)) {
			worst, name = groups[n].values, n
		}
	}
	worst.Groups, worst.WorstGroup = len(groups), name
	return worst, true
}

// groupName is "label=value,..." in the order of groupBy.
func groupName(labels model.Metric, groupBy []string) string {
	parts := make([]string, 0, len(groupBy))
	for _, l := range groupBy {
		parts = append(parts, l+"="+string(labels[model.LabelName(l)]))
	}
	return strings.Join(parts, ",")
}

func first(a, b *float64) *float64 {
	if a != nil {
		return a
	}
	return b
}
