package slo

import "testing"

func TestLeMatcherMatchesEverySpellingOfTheBucketBound(t *testing.T) {
	tests := []struct {
		threshold string
		match     []string
		noMatch   []string
	}{
		{"1", []string{"1", "1.0", "1.00"}, []string{"10", "0.1", "1.5", "11"}},
		{"0.25", []string{"0.25", "0.250"}, []string{"0.2", "0.255", "0.025"}},
		{"1000000", []string{"1000000", "1e+06"}, []string{"100000", "1e+07"}},
		{"0.00005", []string{"0.00005", "5e-05"}, []string{"0.0005", "5e-06"}},
		{"2.5", []string{"2.5", "2.50"}, []string{"25", "2.05"}},
	}
	for _, tt := range tests {
		m := leMatcher(tt.threshold)
		for _, v := range tt.match {
			if !m.Matches(v) {
				t.Errorf("threshold %s: %s does not match le=%q", tt.threshold, m, v)
			}
		}
		for _, v := range tt.noMatch {
			if m.Matches(v) {
				t.Errorf("threshold %s: %s matches le=%q", tt.threshold, m, v)
			}
		}
	}
}

func TestSelectorsAreLimitedToTheProfilesNamespaceUnlessTheyNameOne(t *testing.T) {
	for query, want := range map[string]string{
		`http_requests_total{job="api"}`:                  `http_requests_total{job="api",namespace="shop"}`,
		`http_requests_total{job="api",namespace="edge"}`: `http_requests_total{job="api",namespace="edge"}`,
		`http_requests_total{namespace=~"shop|edge"}`:     `http_requests_total{namespace=~"shop|edge"}`,
	} {
		vs, err := selector("f", query)
		if err != nil {
			t.Fatal(err)
		}
		if got := inNamespace(vs, "shop").String(); got != want {
			t.Errorf("%s → %s, want %s", query, got, want)
		}
	}
}
