package slo

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// promql parses with the defaults of a stock Prometheus.
var promql = parser.NewParser(parser.Options{})

// InvalidQueryError is a query fragment of the profile that does not parse. The controller reports it with
// reason InvalidQuery and keeps the last good PrometheusRule.
type InvalidQueryError struct {
	Field, Query string
	Err          error
	// Expression is true for a promQL indicator's expression, false for a selector.
	Expression bool
}

func (e *InvalidQueryError) Error() string {
	what := "a PromQL metric selector"
	if e.Expression {
		what = "a PromQL expression the operator can use"
	}
	return fmt.Sprintf("%s: %q is not %s: %v", e.Field, e.Query, what, e.Err)
}

// selector parses a metric selector such as `http_requests_total{job="api"}`. The operator wraps it in
// rate() itself, so it must be a plain selector, without a range, functions or operators. The metric is named
// either before the braces, by an equality matcher on __name__ (`{__name__="job:requests:rate5m"}`), or as
// Prometheus 3's quoted UTF-8 name (`{"http.server.requests"}`, which the parser turns into that matcher).
// An offset or @ modifier is refused: it would move the SLO in time, and the rules the operator renders
// carry their own ranges.
func selector(field, query string) (*parser.VectorSelector, error) {
	expr, err := promql.ParseExpr(query)
	if err != nil {
		return nil, &InvalidQueryError{Field: field, Query: query, Err: err}
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return nil, &InvalidQueryError{Field: field, Query: query,
			Err: fmt.Errorf("it is a %s, not a metric selector such as http_requests_total{job=\"api\"}", describe(expr))}
	}
	if vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return nil, &InvalidQueryError{Field: field, Query: query,
			Err: fmt.Errorf("offset and @ modifiers are not allowed: the operator chooses each rule's range itself; write the selector alone, such as http_requests_total{job=\"api\"}")}
	}
	if metricName(vs) == "" {
		return nil, &InvalidQueryError{Field: field, Query: query,
			Err: fmt.Errorf("it names no metric: name one before the braces, with __name__=\"...\" or quoted, such as http_requests_total{job=\"api\"}")}
	}
	return vs, nil
}

// metricName is the metric a selector names, before the braces or by an equality matcher on __name__.
func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// histogramSelector is a selector of a classic or native histogram, named without its suffix. The operator
// adds the `le` matcher of the threshold itself: one in the profile would contradict it, or select no
// `_count` series.
func histogramSelector(field, query string) (*parser.VectorSelector, error) {
	vs, err := selector(field, query)
	if err != nil {
		return nil, err
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == "le" {
			return nil, &InvalidQueryError{Field: field, Query: query,
				Err: fmt.Errorf("it has an le matcher: the operator selects the bucket of spec.slos[].indicator.latency.threshold itself; remove it, such as http_request_duration_seconds{job=\"api\"}")}
		}
	}
	return vs, nil
}

// describe names what an expression is, for a refusal: "a function call rate()", "a binary expression".
func describe(expr parser.Expr) string {
	switch e := expr.(type) {
	case *parser.Call:
		return fmt.Sprintf("call of the function %s()", e.Func.Name)
	case *parser.MatrixSelector:
		return "range selector"
	case *parser.BinaryExpr:
		return "binary expression"
	case *parser.AggregateExpr:
		return "aggregation"
	case *parser.SubqueryExpr:
		return "subquery"
	case *parser.ParenExpr:
		return "parenthesised expression"
	case *parser.NumberLiteral, *parser.StringLiteral:
		return "literal"
	}
	return parser.DocumentedType(expr.Type())
}

// withSuffix is the selector of a histogram's series: name_bucket, name_count. Extra matchers are added.
func withSuffix(vs *parser.VectorSelector, suffix string, extra ...*labels.Matcher) string {
	name := metricName(vs) + suffix
	out := &parser.VectorSelector{}
	// A name outside the classic character set (Prometheus 3's UTF-8 names) is printed as a __name__
	// matcher, which every Prometheus parses; before the braces it would need quotes.
	if model.LegacyValidation.IsValidMetricName(name) {
		out.Name = name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName {
			out.LabelMatchers = append(out.LabelMatchers, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name))
			continue
		}
		out.LabelMatchers = append(out.LabelMatchers, m)
	}
	out.LabelMatchers = append(out.LabelMatchers, extra...)
	return out.String()
}

// leMatcher selects the bucket of a threshold whichever way its `le` label is spelt: as declared by the
// client library ("1", "0.25"), with a trailing ".0" or zeros, or as Prometheus 3 writes bucket bounds
// (OpenMetrics floats: "1.0", "1e+06", "5e-05").
func leMatcher(threshold string) *labels.Matcher {
	spellings := []string{regexp.QuoteMeta(threshold) + `(\.0*)?`}
	if strings.Contains(threshold, ".") {
		spellings[0] = regexp.QuoteMeta(strings.TrimRight(threshold, "0")) + `0*`
	}
	if f, err := strconv.ParseFloat(threshold, 64); err == nil {
		om := labels.FormatOpenMetricsFloat(f)
		if !regexp.MustCompile("^(?:" + spellings[0] + ")$").MatchString(om) {
			spellings = append(spellings, regexp.QuoteMeta(om))
		}
	}
	return labels.MustNewMatcher(labels.MatchRegexp, "le", strings.Join(spellings, "|"))
}

// inNamespace limits a selector to the profile's namespace unless it names one itself: a staging and a
// production profile whose selectors were copied from each other (`job="payments"`) must not count each
// other's traffic.
func inNamespace(vs *parser.VectorSelector, namespace string) *parser.VectorSelector {
	for _, m := range vs.LabelMatchers {
		if m.Name == "namespace" {
			return vs
		}
	}
	out := &parser.VectorSelector{Name: vs.Name, LabelMatchers: append([]*labels.Matcher(nil), vs.LabelMatchers...)}
	out.LabelMatchers = append(out.LabelMatchers, labels.MustNewMatcher(labels.MatchEqual, "namespace", namespace))
	return out
}

// WindowPlaceholder stands for the range of every rate in a promQL indicator's expressions.
const WindowPlaceholder = "$window"

// placeholderTypo is $window run on into a name, such as $windows or $window_5m.
var placeholderTypo = regexp.MustCompile(`\$window[A-Za-z0-9_]+`)

// sentinelRange replaces $window while an expression is checked, so that every range it holds can be told
// apart from one written as a fixed duration.
const sentinelRange = 3*time.Hour + 33*time.Minute + 33*time.Second

// promQLExpression parses one expression of a promQL indicator with $window set to rng, limits every
// selector without a namespace matcher to the namespace, and refuses what would not be an SLI: an
// expression that is not an instant vector, uses no range or a fixed one, moves in time (offset, @), or sums
// away a groupBy label, so that summing it by the groupBy labels yields one series per group.
func promQLExpression(field, query, namespace string, groupBy []string, rng time.Duration) (string, error) {
	refuse := func(format string, args ...any) error {
		return &InvalidQueryError{Field: field, Query: query, Err: fmt.Errorf(format, args...), Expression: true}
	}
	if !strings.Contains(query, WindowPlaceholder) {
		return "", refuse("it does not use %s as the range of its rates, such as sum(rate(http_requests_total{code=~\"5..\"}[%s]))", WindowPlaceholder, WindowPlaceholder)
	}
	if m := placeholderTypo.FindString(query); m != "" {
		return "", refuse("%s is not the placeholder: write %s alone as the range, such as [%s]", m, WindowPlaceholder, WindowPlaceholder)
	}
	checked, err := promql.ParseExpr(strings.ReplaceAll(query, WindowPlaceholder, model.Duration(sentinelRange).String()))
	if err != nil {
		return "", refuse("%v", err)
	}
	if checked.Type() != parser.ValueTypeVector {
		return "", refuse("it is a %s; it must be an instant vector of per-second rates, such as sum(rate(http_requests_total[%s]))", parser.DocumentedType(checked.Type()), WindowPlaceholder)
	}
	ranges := 0
	var problem error
	parser.Inspect(checked, func(node parser.Node, _ []parser.Node) error {
		if problem != nil {
			return problem
		}
		switch n := node.(type) {
		case *parser.MatrixSelector:
			if n.Range != sentinelRange {
				problem = refuse("the range [%s] is fixed: write every range as [%s], the operator evaluates it over 5m and derives longer windows itself", model.Duration(n.Range), WindowPlaceholder)
			}
			ranges++
		case *parser.SubqueryExpr:
			if n.Range != sentinelRange {
				problem = refuse("the subquery range [%s] is fixed: write it as [%s:...]", model.Duration(n.Range), WindowPlaceholder)
			}
			if n.OriginalOffset != 0 || n.Timestamp != nil || n.StartOrEnd != 0 {
				problem = refuse("offset and @ modifiers are not allowed: they would move the SLO in time")
			}
			ranges++
		case *parser.VectorSelector:
			if n.OriginalOffset != 0 || n.Timestamp != nil || n.StartOrEnd != 0 {
				problem = refuse("offset and @ modifiers are not allowed: they would move the SLO in time")
			}
			// A selector of every metric ({__name__=~".+"}) would make each evaluation read the whole
			// namespace on a Prometheus other teams share.
			if metricName(n) == "" {
				problem = refuse("the selector %s names no metric: name one before the braces or with __name__=\"...\"", n)
			}
		case *parser.StringLiteral:
			if strings.Contains(n.Val, model.Duration(sentinelRange).String()) {
				problem = refuse("%s is inside a string; it stands for the range of a rate, such as [%s]", WindowPlaceholder, WindowPlaceholder)
			}
		}
		return problem
	})
	if problem != nil {
		return "", problem
	}
	if ranges == 0 {
		return "", refuse("it uses %s nowhere as a range: write it as the range of its rates, such as rate(x[%s])", WindowPlaceholder, WindowPlaceholder)
	}
	// Every $window must be a range: one in a label value or a comment would be rewritten to 5m silently.
	if n := strings.Count(query, WindowPlaceholder); n != ranges {
		return "", refuse("%s appears %d times but is the range of %d rates: use it only as a range, such as rate(x[%s])", WindowPlaceholder, n, ranges, WindowPlaceholder)
	}
	if len(groupBy) > 0 {
		if agg, ok := unparen(checked).(*parser.AggregateExpr); ok {
			for _, g := range groupBy {
				if agg.Without == slices.Contains(agg.Grouping, g) {
					return "", refuse("its outer %s() sums away the groupBy label %s: write %s by (%s), or leave the sum to the operator, which sums it by the groupBy labels",
						agg.Op, g, agg.Op, strings.Join(groupBy, ", "))
				}
			}
		}
	}
	// Every range is the sentinel now, so the checked expression becomes the rule's by setting them to rng.
	parser.Inspect(checked, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.MatrixSelector:
			n.Range = rng
		case *parser.SubqueryExpr:
			n.Range = rng
		case *parser.VectorSelector:
			*n = *inNamespace(n, namespace)
		}
		return nil
	})
	return checked.String(), nil
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// Selector is one PromQL selector of an SLO's indicator as the profile wrote it, parsed: the field that holds
// it, the metric it names and its matchers. Admission reads them to warn about what parses but surprises.
type Selector struct {
	Field, Metric string
	Matchers      []*labels.Matcher
}

// Selectors are the indicator's selectors, parsed as the rules parse them.
func (o Objective) Selectors() ([]Selector, error) {
	var out []Selector
	for _, q := range indicatorQueries(o.Index, v1alpha1.Indicator{Ratio: o.Ratio, Latency: o.Latency, BoolGauge: o.BoolGauge}) {
		vs, err := q.parse()
		if err != nil {
			return nil, err
		}
		out = append(out, Selector{Field: q.field, Metric: metricName(vs), Matchers: vs.LabelMatchers})
	}
	if p := o.PromQL; p != nil {
		// Every selector inside a promQL expression, as written (before the namespace is added).
		idx := fmt.Sprintf("spec.slos[%d].indicator.promQL", o.Index)
		for _, q := range []struct{ field, query string }{{idx + ".errors", p.Errors}, {idx + ".total", p.Total}} {
			expr, err := promql.ParseExpr(strings.ReplaceAll(q.query, WindowPlaceholder, model.Duration(base).String()))
			if err != nil {
				return nil, &InvalidQueryError{Field: q.field, Query: q.query, Err: err, Expression: true}
			}
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					out = append(out, Selector{Field: q.field, Metric: metricName(vs), Matchers: vs.LabelMatchers})
				}
				return nil
			})
		}
	}
	return out, nil
}

// indicatorQuery is one PromQL selector of an indicator and the field that holds it.
type indicatorQuery struct {
	field, query string
	histogram    bool
}

func (q indicatorQuery) parse() (*parser.VectorSelector, error) {
	if q.histogram {
		return histogramSelector(q.field, q.query)
	}
	return selector(q.field, q.query)
}

// indicatorQueries are the selectors of the i-th SLO's indicator: errors and total of a ratio, or the
// histogram of a latency indicator.
func indicatorQueries(i int, ind v1alpha1.Indicator) []indicatorQuery {
	idx := fmt.Sprintf("spec.slos[%d].indicator", i)
	var out []indicatorQuery
	if r := ind.Ratio; r != nil {
		out = append(out, indicatorQuery{field: idx + ".ratio.errors", query: r.Errors}, indicatorQuery{field: idx + ".ratio.total", query: r.Total})
	}
	if l := ind.Latency; l != nil {
		out = append(out, indicatorQuery{field: idx + ".latency.histogram", query: l.Histogram, histogram: true})
	}
	if g := ind.BoolGauge; g != nil {
		out = append(out, indicatorQuery{field: idx + ".boolGauge.selector", query: g.Selector})
	}
	return out
}

// expressionProblems are the errors of a promQL indicator's two expressions.
func expressionProblems(i int, s v1alpha1.SLO, namespace string) []error {
	p := s.Indicator.PromQL
	if p == nil {
		return nil
	}
	idx := fmt.Sprintf("spec.slos[%d].indicator.promQL", i)
	var errs []error
	for _, q := range []struct{ field, query string }{{idx + ".errors", p.Errors}, {idx + ".total", p.Total}} {
		if _, err := promQLExpression(q.field, q.query, namespace, s.GroupBy, base); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}
