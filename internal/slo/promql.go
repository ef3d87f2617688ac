package slo

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql parses with the defaults of a stock Prometheus.
var promql = parser.NewParser(parser.Options{})

// InvalidQueryError is a query fragment of the profile that does not parse. The controller reports it with
// reason InvalidQuery and keeps the last good PrometheusRule.
type InvalidQueryError struct {
	Field, Query string
	Err          error
}

func (e *InvalidQueryError) Error() string {
	return fmt.Sprintf("%s: %q does not parse as a PromQL metric selector: %v", e.Field, e.Query, e.Err)
}

// selector parses a metric selector such as `http_requests_total{job="api"}`. The operator wraps it in
// rate() itself, so it must be a plain selector, without a range or functions.
func selector(field, query string) (*parser.VectorSelector, error) {
	expr, err := promql.ParseExpr(query)
	if err != nil {
		return nil, &InvalidQueryError{Field: field, Query: query, Err: err}
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return nil, &InvalidQueryError{Field: field, Query: query,
			Err: fmt.Errorf("it is a %s, not a metric selector such as http_requests_total{job=\"api\"}", parser.DocumentedType(expr.Type()))}
	}
	if vs.Name == "" {
		return nil, &InvalidQueryError{Field: field, Query: query, Err: fmt.Errorf("it names no metric")}
	}
	return vs, nil
}

// withSuffix is the selector of a histogram's series: name_bucket, name_count. Extra matchers are added.
func withSuffix(vs *parser.VectorSelector, suffix string, extra ...*labels.Matcher) string {
	name := vs.Name + suffix
	out := &parser.VectorSelector{Name: name}
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

// leMatcher selects the bucket of a threshold whichever way its `le` label is spelt: Prometheus 3 writes
// bucket bounds as floats ("1.0"), Prometheus 2 and client libraries as they were declared ("1").
func leMatcher(threshold string) *labels.Matcher {
	t := strings.TrimRight(threshold, "0")
	if strings.HasSuffix(t, ".") || !strings.Contains(threshold, ".") {
		t = strings.TrimSuffix(t, ".")
		if !strings.Contains(threshold, ".") {
			t = threshold
		}
		return labels.MustNewMatcher(labels.MatchRegexp, "le", regexp.QuoteMeta(t)+`(\.0+)?`)
	}
	return labels.MustNewMatcher(labels.MatchRegexp, "le", regexp.QuoteMeta(t)+`0*`)
}
