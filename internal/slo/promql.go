package slo

import (
	"fmt"
	"regexp"
	"strconv"
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
