package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

var origin = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestTheLiveSeriesContinueTheBackfilledHistory(t *testing.T) {
	w := workload{Job: "api", Namespace: "default", Instances: 2, Origin: origin}
	var om bytes.Buffer
	end := origin.Add(2 * time.Minute)
	if err := w.WriteOpenMetrics(&om, end, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	history := om.String()
	if !strings.HasSuffix(history, "# EOF\n") {
		t.Errorf("the OpenMetrics history does not end in # EOF")
	}
	// 4 samples per series (0s, 30s, 60s, 90s), the last one 30s before where the exporter goes on.
	if got, want := strings.Count(history, "\n")-3, w.seriesCount()*4; got != want {
		t.Errorf("history has %d samples, want %d", got, want)
	}
	last := `http_requests_total{job="api",namespace="default",instance="api-001",code="500"} ` +
		formatFloat(w.requests(1, origin.Add(90*time.Second))*0.0007) + " " + itoa(origin.Add(90*time.Second).Unix())
	if !strings.Contains(history, last+"\n") {
		t.Errorf("history lacks %q", last)
	}
	live := string(w.Exposition(end))
	want := `http_requests_total{job="api",namespace="default",instance="api-001",code="500"} ` + formatFloat(w.requests(1, end)*0.0007) + "\n"
	if !strings.Contains(live, want) {
		t.Errorf("the exporter does not continue the series: want %q in\n%s", want, live)
	}
}

func TestEveryCounterGrowsAndTheHistogramIsCumulative(t *testing.T) {
	w := workload{Job: "api", Namespace: "default", Instances: 20, Origin: origin}
	for i := 0; i < w.Instances; i++ {
		a, b := w.requests(i, origin.Add(time.Minute)), w.requests(i, origin.Add(2*time.Minute))
		if !(b > a) {
			t.Errorf("instance %d: requests %v then %v", i, a, b)
		}
	}
	prev := 0.0
	for _, bucket := range bucketShares {
		if bucket.Share < prev {
			t.Errorf("bucket le=%s holds fewer requests than the one below", bucket.LE)
		}
		prev = bucket.Share
	}
	if bucketShares[len(bucketShares)-1].LE != "+Inf" || prev != 1 {
		t.Errorf("the last bucket is not +Inf holding every request")
	}
	var errors, all float64
	for _, c := range codeShares {
		all += c.Share
		if strings.HasPrefix(c.Code, "5") {
			errors += c.Share
		}
	}
	if math.Abs(all-1) > 1e-9 || math.Abs(errors-0.001) > 1e-9 {
		t.Errorf("code shares sum to %v with %v errors; want 1 and 0.001 (the availability SLO's budget)", all, errors)
	}
}

const metricsPage = `# HELP prometheus_rule_group_last_duration_seconds The duration of the last rule group evaluation.
prometheus_rule_group_last_duration_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 0.02
prometheus_rule_group_last_duration_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability-window"} 0.5
prometheus_rule_group_last_duration_seconds{rule_group="/w/sloth.rules.yaml;sloth-slo-sli-recordings-api-availability"} 0.04
prometheus_rule_group_interval_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 30
prometheus_rule_group_interval_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability-window"} 300
prometheus_rule_group_interval_seconds{rule_group="/w/sloth.rules.yaml;sloth-slo-sli-recordings-api-availability"} 30
prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 1000
prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability-window"} 900
prometheus_rule_group_last_evaluation_timestamp_seconds{rule_group="/w/sloth.rules.yaml;sloth-slo-sli-recordings-api-availability"} 0
prometheus_rule_group_last_evaluation_samples{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 12
prometheus_rule_group_rules{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 15
prometheus_rule_group_rules{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability-window"} 2
prometheus_rule_evaluations_total{rule_group="/w/ours.rules.yaml;default/api/api-slo-availability"} 7
`

func TestTheGroupGaugesAreReadByFileAndGroup(t *testing.T) {
	ms := groupMetrics([]byte(metricsPage))
	if len(ms) != 12 {
		t.Fatalf("read %d per-group gauges, want 12: %+v", len(ms), ms)
	}
	if m := ms[1]; m.File != "/w/ours.rules.yaml" || m.Group != "default/api/api-slo-availability-window" || m.Value != 0.5 {
		t.Errorf("read %+v", m)
	}
	for _, tc := range []struct{ labels, want string }{
		{`rule_group="a;b"`, "a;b"},
		{`x_rule_group="no",rule_group="a;b"`, "a;b"},
		{`other="x"`, ""},
	} {
		if got, _ := labelValue(tc.labels, "rule_group"); got != tc.want {
			t.Errorf("labelValue(%s) = %q, want %q", tc.labels, got, tc.want)
		}
	}
}

func TestTheCostIsEachGroupsMeanEvaluationTimesItsEvaluationsPerMinute(t *testing.T) {
	o := newGroupObservations()
	o.WarmUp = true
	o.Add([]byte(metricsPage)) // the window group's evaluation at 900 is seen during the warm-up only
	o.WarmUp = false
	o.Add([]byte(metricsPage)) // read again before the next evaluation: counted once
	o.Add([]byte(strings.Replace(strings.Replace(metricsPage, "} 1000", "} 1030", 1), "api-slo-availability\"} 0.02", "api-slo-availability\"} 0.04", 1)))
	ours := o.Cost("/w/ours.rules.yaml")
	// availability: its measured evaluations (0.02s at 1000 was first seen in the warm-up, so 0.04s at 1030)
	// twice a minute; window: its warm-up evaluation, 0.5s every 5 minutes.
	want := 0.04*2 + 0.5/5
	if math.Abs(ours.EvalSecondsPerMinute-want) > 1e-9 || ours.Groups != 2 || ours.Rules != 17 {
		t.Errorf("ours cost %+v, want %v eval s/min in 2 groups of 17 rules", ours, want)
	}
	if sloth := o.Cost("/w/sloth.rules.yaml"); sloth.Groups != 0 {
		t.Errorf("a group never evaluated (timestamp 0) counted: %+v", sloth)
	}
}

func TestTheMedianAndTheTable(t *testing.T) {
	if median([]float64{3, 1, 2}) != 2 || median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Errorf("median is wrong")
	}
	m := Measurement{Label: "before", Runs: []Run{
		{Run: 1, FirstFile: "ours", Ours: RuleSetCost{EvalSecondsPerMinute: 1}, Sloth: RuleSetCost{EvalSecondsPerMinute: 2}},
		{Run: 2, FirstFile: "sloth", Ours: RuleSetCost{EvalSecondsPerMinute: 3}, Sloth: RuleSetCost{EvalSecondsPerMinute: 2}},
		{Run: 3, FirstFile: "ours", Ours: RuleSetCost{EvalSecondsPerMinute: 2}, Sloth: RuleSetCost{EvalSecondsPerMinute: 4}},
	}}
	table := m.Table()
	for _, want := range []string{"| 2 | sloth | 3.0000 | 2.0000 | 1.50 |", "| **median** | | **2.0000** | **2.0000** | **0.50** |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	ms := merge(merge(nil, m), Measurement{Label: "after"})
	ms = merge(ms, Measurement{Label: "before"})
	if len(ms) != 2 || ms[0].Label != "before" || len(ms[0].Runs) != 0 {
		t.Errorf("merge does not replace a measurement of the same label in place: %+v", ms)
	}
}

func TestThePrometheusConfigurationLoadsTheFilesInTheirOrder(t *testing.T) {
	s := settings{scrape: 30 * time.Second, eval: 30 * time.Second}
	c := prometheusConfig(s, "127.0.0.1:9", []string{"/w/sloth.rules.yaml", "/w/ours.rules.yaml"})
	for _, want := range []string{"scrape_interval: 30s", "evaluation_interval: 30s", "honor_labels: true",
		"rule_files:\n  - \"/w/sloth.rules.yaml\"\n  - \"/w/ours.rules.yaml\"\n"} {
		if !strings.Contains(c, want) {
			t.Errorf("configuration lacks %q:\n%s", want, c)
		}
	}
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
func itoa(n int64) string          { return strconv.FormatInt(n, 10) }

// TestTheReadBackRecordingsAreTheOnesOtherRulesRead: the backfill evaluates only the recordings over raw
// counters that other rules read over time, of both files, under group names that cannot clash.
func TestTheReadBackRecordingsAreTheOnesOtherRulesRead(t *testing.T) {
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.yaml")
	sloth := filepath.Join(dir, "sloth.yaml")
	write := func(path, content string) {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(ours, `groups:
- name: api-slo-availability
  rules:
  - {record: "slo:sli_errors:rate5m", expr: "sum(rate(e[5m]))", labels: {slo: availability}}
  - {record: "slo:sli_requests:rate5m", expr: "sum(rate(t[5m]))"}
  - {record: "slo:sli_error:ratio_rate1h", expr: "sum(sum_over_time(slo:sli_errors:rate5m[1h]))"}
  - {alert: ErrorBudgetBurn, expr: "vector(1)"}
`)
	write(sloth, `groups:
- name: api-slo-availability
  rules:
  - {record: "slo:sli_error:ratio_rate5m", expr: "sum(rate(e[5m])) / sum(rate(t[5m]))"}
  - {record: "slo:sli_error:ratio_rate3d", expr: "sum(rate(e[3d])) / sum(rate(t[3d]))"}
`)
	out := filepath.Join(dir, "read-back.yaml")
	if err := writeReadBack(out, ours, sloth); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Groups []struct {
			Name  string
			Rules []struct{ Record string }
		}
	}
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range got.Groups {
		for _, r := range g.Rules {
			names = append(names, g.Name+" "+r.Record)
		}
	}
	want := "ours.yaml/api-slo-availability slo:sli_errors:rate5m; ours.yaml/api-slo-availability slo:sli_requests:rate5m; sloth.yaml/api-slo-availability slo:sli_error:ratio_rate5m"
	if strings.Join(names, "; ") != want {
		t.Errorf("read-back recordings:\n%s\nwant\n%s", strings.Join(names, "; "), want)
	}
}
