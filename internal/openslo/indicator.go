package openslo

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

var promql = parser.NewParser(parser.Options{})

// indicator maps the SLO's spec.indicator, or the SLI document its spec.indicatorRef names, to a profile's
// indicator.
func (m mapper) indicator(d doc) (map[string]any, bool) {
	inline, hasInline := d.spec["indicator"].(map[string]any)
	ref, _ := d.spec["indicatorRef"].(string)
	var spec map[string]any
	field := "spec.indicator.spec"
	switch {
	case hasInline && ref != "":
		m.refuse(d, "spec.indicatorRef", "set indicator or indicatorRef, not both")
		return nil, false
	case hasInline:
		spec, _ = inline["spec"].(map[string]any)
	case ref != "":
		sli, ok := m.slis[ref]
		if !ok {
			m.refuse(d, "spec.indicatorRef", "%q: no SLI document of that name among the inputs; pass its file with -f too", ref)
			return nil, false
		}
		spec, field = sli.spec, fmt.Sprintf("spec.indicatorRef (SLI %s, %s) spec", ref, sli.Source)
	default:
		m.refuse(d, "spec.indicator", "indicator or indicatorRef is required")
		return nil, false
	}
	if _, ok := spec["thresholdMetric"]; ok {
		m.refuse(d, field+".thresholdMetric", "not imported: a ReliabilityProfile counts good and bad events, and a threshold on a raw value (even a latency quantile) is not a ratio of events; write a ratioMetric of requests slower than the threshold over all requests")
		return nil, false
	}
	ratio, ok := spec["ratioMetric"].(map[string]any)
	if !ok {
		m.refuse(d, field+".ratioMetric", "required: only ratioMetric indicators are imported")
		return nil, false
	}
	field += ".ratioMetric"
	if _, ok := ratio["raw"]; ok {
		m.refuse(d, field+".raw", "a precomputed ratio is not imported: a burn rate over several windows needs the counts of good or bad events and of all events")
		return nil, false
	}
	_, hasGood := ratio["good"]
	_, hasBad := ratio["bad"]
	if hasGood == hasBad {
		m.refuse(d, field, "set exactly one of good or bad, with total")
		return nil, false
	}
	numField := "bad"
	if hasGood {
		numField = "good"
	}
	num, ok := m.query(d, field+"."+numField, ratio[numField])
	if !ok {
		return nil, false
	}
	total, ok := m.query(d, field+".total", ratio["total"])
	if !ok {
		return nil, false
	}
	counter, hasCounter := ratio["counter"].(bool)

	numSel, numPlain := plainSelector(num)
	totalSel, totalPlain := plainSelector(total)
	if numPlain && totalPlain {
		if hasCounter && !counter {
			m.refuse(d, field+".counter", "false: plain selectors of gauges are not event counts; the operator takes the rate of counters")
			return nil, false
		}
		if hasBad {
			return map[string]any{"ratio": map[string]any{"errors": numSel, "total": totalSel}}, true
		}
		t := fmt.Sprintf("sum(rate(%s[$window]))", totalSel)
		return map[string]any{"promQL": map[string]any{
			"errors": fmt.Sprintf("%s - sum(rate(%s[$window]))", t, numSel),
			"total":  t,
		}}, true
	}
	numExpr, ok := m.rateExpression(d, field+"."+numField+".metricSource.spec.query", num)
	if !ok {
		return nil, false
	}
	totalExpr, ok := m.rateExpression(d, field+".total.metricSource.spec.query", total)
	if !ok {
		return nil, false
	}
	if hasBad {
		return map[string]any{"promQL": map[string]any{"errors": numExpr, "total": totalExpr}}, true
	}
	return map[string]any{"promQL": map[string]any{"errors": fmt.Sprintf("(%s) - (%s)", totalExpr, numExpr), "total": totalExpr}}, true
}

// query is the Prometheus query of one metric of a ratioMetric.
func (m mapper) query(d doc, field string, v any) (string, bool) {
	metric, _ := v.(map[string]any)
	source, _ := metric["metricSource"].(map[string]any)
	if source == nil {
		m.refuse(d, field+".metricSource", "required")
		return "", false
	}
	typ, _ := source["type"].(string)
	if ref, _ := source["metricSourceRef"].(string); ref != "" && typ == "" {
		ds, ok := m.sources[ref]
		if !ok {
			m.refuse(d, field+".metricSource.metricSourceRef", "%q: no DataSource document of that name among the inputs, and no type: pass its file with -f, or set type: Prometheus", ref)
			return "", false
		}
		typ, _ = ds.spec["type"].(string)
	}
	if !strings.EqualFold(typ, "prometheus") {
		m.refuse(d, field+".metricSource.type", "%q: only Prometheus metric sources are imported; the operator's rules run in Prometheus", typ)
		return "", false
	}
	spec, _ := source["spec"].(map[string]any)
	q, _ := spec["query"].(string)
	if strings.TrimSpace(q) == "" {
		m.refuse(d, field+".metricSource.spec.query", "required: the PromQL of the metric")
		return "", false
	}
	if _, err := promql.ParseExpr(q); err != nil {
		m.refuse(d, field+".metricSource.spec.query", "%q does not parse as PromQL: %v", q, err)
		return "", false
	}
	return strings.TrimSpace(q), true
}

// plainSelector is the query as a metric selector without range, offset or @, if it is one.
func plainSelector(q string) (string, bool) {
	expr, err := promql.ParseExpr(q)
	if err != nil {
		return "", false
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return "", false
	}
	return q, true
}

// rateExpression is an expression of range selectors with every range replaced by $window. All ranges must
// be the same: with different ones, the author meant something a single $window would change.
func (m mapper) rateExpression(d doc, field, q string) (string, bool) {
	expr, err := promql.ParseExpr(q)
	if err != nil {
		m.refuse(d, field, "%q does not parse as PromQL: %v", q, err)
		return "", false
	}
	type cut struct{ start, end int }
	var cuts []cut
	ranges := map[time.Duration]bool{}
	var bad string
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.SubqueryExpr:
			bad = "a subquery"
		case *parser.MatrixSelector:
			vs, _ := n.VectorSelector.(*parser.VectorSelector)
			if vs == nil || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
				bad = "an offset or @ modifier"
				return nil
			}
			if n.RangeExpr != nil {
				bad = "a range that is an expression"
				return nil
			}
			ranges[n.Range] = true
			cuts = append(cuts, cut{int(vs.PosRange.End), int(n.EndPos)})
		}
		return nil
	})
	switch {
	case bad != "":
		m.refuse(d, field, "%q has %s: the operator chooses every range itself through $window", q, bad)
		return "", false
	case len(ranges) == 0 && sumOfCounter(expr) != "":
		// A sum of a counter, as the specification's own Prometheus example writes its good events: the sum
		// of the counter's rates is the rate of the sum, and its range is the operator's.
		return sumOfCounter(expr), true
	case len(ranges) == 0:
		m.refuse(d, field, "%q has no range selector: it is neither a plain counter selector, which the operator wraps in rate(), nor a rate expression such as sum(rate(http_requests_total[5m])) whose range can become $window", q)
		return "", false
	case len(ranges) > 1:
		m.refuse(d, field, "%q has range selectors of different ranges: one $window cannot stand for them all", q)
		return "", false
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].start > cuts[j].start })
	out := q
	for _, c := range cuts {
		if c.start >= 0 && c.end <= len(out) && c.start < c.end {
			// PromQL allows blanks between a selector and its range.
			c.start += strings.IndexByte(out[c.start:c.end], '[')
		}
		if c.start < 0 || c.end > len(out) || c.start >= c.end || out[c.start] != '[' || out[c.end-1] != ']' {
			m.refuse(d, field, "%q: could not locate the range of a range selector to replace it with $window", q)
			return "", false
		}
		out = out[:c.start] + "[$window]" + out[c.end:]
	}
	return strings.TrimSpace(out), true
}

// sumOfCounter writes sum(c) or sum by (...) (c) of a counter selector, or the selector c alone, as the same
// sum of rate(c[$window]), or is empty when the expression is neither.
func sumOfCounter(expr parser.Expr) string {
	if vs, ok := expr.(*parser.VectorSelector); ok {
		expr = &parser.AggregateExpr{Op: parser.SUM, Expr: vs} // a counter beside a sum: sum its rate too
	}
	agg, ok := expr.(*parser.AggregateExpr)
	if !ok || agg.Op != parser.SUM {
		return ""
	}
	vs, ok := agg.Expr.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return ""
	}
	const placeholder = 3*time.Hour + 33*time.Minute + 33*time.Second
	rated := *agg // a copy: the caller's expression stays as parsed
	rated.Expr = &parser.Call{Func: parser.Functions["rate"], Args: parser.Expressions{&parser.MatrixSelector{VectorSelector: vs, Range: placeholder}}}
	return strings.ReplaceAll(rated.String(), "["+model.Duration(placeholder).String()+"]", "[$window]")
}
