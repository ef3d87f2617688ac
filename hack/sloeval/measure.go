package main

import (
	"bufio"
	"bytes"
	"sort"
	"strconv"
	"strings"
)

// groupMetric is one sample of a prometheus_rule_group_* gauge: its rule group ("<file>;<group>", as
// Prometheus labels it) and value.
type groupMetric struct {
	Name, File, Group string
	Value             float64
}

// groupMetrics picks the per-group rule gauges out of a /metrics page in the text format. Only the
// rule_group label is read; a line without one is not a per-group gauge.
func groupMetrics(page []byte) []groupMetric {
	var out []groupMetric
	sc := bufio.NewScanner(bytes.NewReader(page))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "prometheus_rule_group_") {
			continue
		}
		name, rest, ok := strings.Cut(line, "{")
		if !ok {
			continue
		}
		end := strings.LastIndex(rest, "} ")
		if end < 0 {
			continue
		}
		group, ok := labelValue(rest[:end], "rule_group")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(strings.Fields(rest[end+2:])[0], 64)
		if err != nil {
			continue
		}
		file, g, _ := strings.Cut(group, ";")
		out = append(out, groupMetric{Name: name, File: file, Group: g, Value: v})
	}
	return out
}

// labelValue is the value of one label in the text format's label list (a="x",b="y"); rule group names
// hold neither quotes nor backslashes, so unescaping is not needed.
func labelValue(labels, name string) (string, bool) {
	i := strings.Index(labels, name+`="`)
	for i > 0 && labels[i-1] != ',' {
		next := strings.Index(labels[i+1:], name+`="`)
		if next < 0 {
			return "", false
		}
		i += 1 + next
	}
	if i < 0 {
		return "", false
	}
	v := labels[i+len(name)+2:]
	end := strings.IndexByte(v, '"')
	if end < 0 {
		return "", false
	}
	return v[:end], true
}

// groupKey names a rule group by its file and name.
type groupKey struct{ File, Group string }

// evaluation is what one evaluation of a group reported.
type evaluation struct {
	Seconds, Samples float64
	WarmUp           bool // seen before the measured period began
}

// groupObservations gathers, from successive /metrics pages, one evaluation per group per evaluation
// timestamp: a page read twice between two evaluations counts once. Pages read while WarmUp is set are
// kept apart: a group with a long interval (our SLO-window groups, 5m) may not be evaluated within a short
// measured period, and then its evaluations during the warm-up stand for it rather than nothing.
type groupObservations struct {
	WarmUp      bool
	Interval    map[groupKey]float64
	Rules       map[groupKey]float64
	Evaluations map[groupKey]map[float64]evaluation // by prometheus_rule_group_last_evaluation_timestamp_seconds
}

func newGroupObservations() *groupObservations {
	return &groupObservations{Interval: map[groupKey]float64{}, Rules: map[groupKey]float64{},
		Evaluations: map[groupKey]map[float64]evaluation{}}
}

// Add records one /metrics page. A group not evaluated yet (timestamp 0) is left out.
func (o *groupObservations) Add(page []byte) {
	type last struct{ ts, seconds, samples float64 }
	now := map[groupKey]*last{}
	at := func(k groupKey) *last {
		if now[k] == nil {
			now[k] = &last{}
		}
		return now[k]
	}
	for _, m := range groupMetrics(page) {
		k := groupKey{m.File, m.Group}
		switch m.Name {
		case "prometheus_rule_group_interval_seconds":
			o.Interval[k] = m.Value
		case "prometheus_rule_group_rules":
			o.Rules[k] = m.Value
		case "prometheus_rule_group_last_evaluation_timestamp_seconds":
			at(k).ts = m.Value
		case "prometheus_rule_group_last_duration_seconds":
			at(k).seconds = m.Value
		case "prometheus_rule_group_last_evaluation_samples":
			at(k).samples = m.Value
		}
	}
	for k, l := range now {
		if l.ts <= 0 {
			continue
		}
		if o.Evaluations[k] == nil {
			o.Evaluations[k] = map[float64]evaluation{}
		}
		if _, seen := o.Evaluations[k][l.ts]; !seen {
			o.Evaluations[k][l.ts] = evaluation{Seconds: l.seconds, Samples: l.samples, WarmUp: o.WarmUp}
		}
	}
}

// RuleSetCost is what one rule file cost during a measurement.
type RuleSetCost struct {
	// EvalSecondsPerMinute is the sum over the file's groups of the group's mean evaluation time times its
	// evaluations per minute (60 / its interval).
	EvalSecondsPerMinute float64 `json:"evalSecondsPerMinute"`
	Groups               int     `json:"groups"`
	Rules                int     `json:"rules"`
	// SamplesPerMinute is the samples the file's rules produced per minute
	// (prometheus_rule_group_last_evaluation_samples, likewise scaled): what they write, not what they read.
	SamplesPerMinute float64 `json:"samplesPerMinute"`
	Evaluations      int     `json:"evaluations"`
	// PerGroup is each group's evaluation seconds per minute, by its name.
	PerGroup map[string]float64 `json:"perGroup"`
}

// measured is a group's evaluations in the measured period, or, when it has none there, those of the
// warm-up.
func measured(evals map[float64]evaluation) []evaluation {
	var in, warm []evaluation
	for _, e := range evals {
		if e.WarmUp {
			warm = append(warm, e)
		} else {
			in = append(in, e)
		}
	}
	if len(in) == 0 {
		return warm
	}
	return in
}

// Cost is the cost of the groups of one file.
func (o *groupObservations) Cost(file string) RuleSetCost {
	c := RuleSetCost{PerGroup: map[string]float64{}}
	for k, all := range o.Evaluations {
		evals := measured(all)
		interval := o.Interval[k]
		if k.File != file || len(evals) == 0 || interval <= 0 {
			continue
		}
		var seconds, samples float64
		for _, e := range evals {
			seconds += e.Seconds
			samples += e.Samples
		}
		perMinute := 60 / interval
		n := float64(len(evals))
		c.PerGroup[k.Group] = seconds / n * perMinute
		c.EvalSecondsPerMinute += seconds / n * perMinute
		c.SamplesPerMinute += samples / n * perMinute
		c.Groups++
		c.Rules += int(o.Rules[k])
		c.Evaluations += len(evals)
	}
	return c
}

// median of a non-empty list; the mean of the middle two for an even count.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
