package openslo_test

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/openslo"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func convert(t *testing.T, files ...string) openslo.Result {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join("testdata", f))
	}
	docs, err := cli.Load(paths, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("no documents in %v", files)
	}
	in := make([]openslo.Document, len(docs))
	for i, d := range docs {
		in[i] = openslo.Document{Source: filepath.Base(d.Source), Object: d.Object}
	}
	return openslo.Convert(in, openslo.Options{Namespace: "shop", Tier: "non-critical"})
}

func TestWhatMapsMatchesItsGoldenProfiles(t *testing.T) {
	for _, tc := range []struct {
		name, golden string
		files        []string
	}{
		{"bad and total counter selectors become a ratio, two objectives two SLOs, labels routing", "shop-ratio.golden.yaml", []string{"shop-ratio.yaml"}},
		{"rate expressions become promQL with $window, good selectors the total - good form", "shop-rates.golden.yaml", []string{"shop-rates.yaml"}},
		{"the specification's Prometheus ratioMetric: a sum of counters becomes the sum of their rates", "spec-ratio-prometheus.golden.yaml", []string{"spec-ratio-prometheus.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, tc.files...)
			for _, r := range res.Refusals {
				t.Errorf("refused: %v", r)
			}
			var objs []any
			for _, p := range res.Profiles {
				objs = append(objs, p.Object)
			}
			got, err := yaml.Marshal(objs)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
			}
		})
	}
}

func TestWhatCannotMapIsRefusedInWords(t *testing.T) {
	for _, tc := range []struct {
		name string
		file string
		want []string // each a substring of one refusal
	}{
		{"a Datadog source is not Prometheus", "spec-inline-datadog.yaml",
			[]string{`spec-inline-datadog.yaml:1: OpenSLO SLO foo-slo: spec.indicator.spec.ratioMetric.good.metricSource.type: "Datadog": only Prometheus metric sources are imported`,
				"OpenSLO SLO foo-slo: spec.budgetingMethod: required"}},
		{"a thresholdMetric is not a ratio of events", "spec-threshold-redshift.yaml",
			[]string{"OpenSLO SLO metrics-db: spec.indicatorRef (SLI redshift-metric, spec-threshold-redshift.yaml:1) spec.thresholdMetric: not imported"}},
		{"a calendar window and timeslices are refused, and a source of type Any", "examples-timeslices-slo.yaml",
			[]string{"OpenSLO SLO service-availability: spec.timeWindow[0]: a calendar-aligned window is not imported",
				"OpenSLO SLO service-availability: spec.budgetingMethod: Timeslices is not imported",
				`spec.indicator.spec.ratioMetric.good.metricSource.type: "Any": only Prometheus`}},
		{"ratio timeslices are refused", "examples-ratio-timeslices.yaml",
			[]string{"OpenSLO SLO main-page: spec.budgetingMethod: RatioTimeslices is not imported"}},
		{"the occurrences example is a thresholdMetric", "examples-occurences-slo.yaml",
			[]string{"OpenSLO SLO search-slo: spec.indicator.spec.thresholdMetric: not imported"}},
		{"a missing SLI and different ranges are refused", "refused-missing-sli.yaml",
			[]string{`OpenSLO SLO orders: spec.indicatorRef: "orders-availability": no SLI document of that name among the inputs`,
				"OpenSLO SLO orders-mixed: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: " +
					`"sum(rate(http_requests_total{code=~\"5..\"}[5m])) + sum(rate(http_requests_total{code=\"429\"}[1h]))" has range selectors of different ranges`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := convert(t, tc.file)
			var got []string
			for _, r := range res.Refusals {
				got = append(got, r.Error())
			}
			all := strings.Join(got, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("no refusal says\n  %s\nrefusals:\n%s", w, all)
				}
			}
			for _, p := range res.Profiles {
				if len(p.Object["spec"].(map[string]any)["slos"].([]any)) > 0 {
					t.Errorf("a refused SLO still made a profile with SLOs: %v", p.Object)
				}
			}
		})
	}
}

func TestAlertPoliciesAreLeftOutWithANote(t *testing.T) {
	res := convert(t, "spec-alertpolicy.yaml")
	if len(res.Refusals) > 0 || len(res.Profiles) > 0 {
		t.Fatalf("an AlertPolicy alone made %v, refused %v", res.Profiles, res.Refusals)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "OpenSLO AlertPolicy AlertPolicy: left out: the operator renders its own multi-window multi-burn-rate alerts") {
		t.Errorf("notes: %q", res.Notes)
	}
}

func TestTargetsBecomePercentStringsWithoutFloatingPointNoise(t *testing.T) {
	for _, tc := range []struct {
		objective string
		want      string
	}{
		{"target: 0.999", "99.9"},
		{"target: 0.98", "98"},
		{"target: 0.9995", "99.95"},
		{"target: 0.00001", "0.001"},
		{"targetPercent: 99.99", "99.99"},
		{"targetPercent: 95", "95"},
	} {
		doc := "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: a}\nspec:\n  service: s\n  budgetingMethod: Occurrences\n" +
			"  timeWindow: [{duration: 7d, isRolling: true}]\n" +
			"  indicator: {spec: {ratioMetric: {bad: {metricSource: {type: Prometheus, spec: {query: 'e_total'}}}, total: {metricSource: {type: Prometheus, spec: {query: 't_total'}}}}}}\n" +
			"  objectives: [{" + tc.objective + "}]\n"
		docs, err := cli.Load([]string{"-"}, strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		res := openslo.Convert([]openslo.Document{{Source: "-", Object: docs[0].Object}}, openslo.Options{Tier: "non-critical"})
		if len(res.Refusals) > 0 || len(res.Profiles) != 1 {
			t.Fatalf("%s: refused %v", tc.objective, res.Refusals)
		}
		got := res.Profiles[0].Object["spec"].(map[string]any)["slos"].([]any)[0].(map[string]any)["objective"]
		if got != tc.want {
			t.Errorf("%s became objective %q, want %q", tc.objective, got, tc.want)
		}
	}
}
