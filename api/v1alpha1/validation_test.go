package v1alpha1_test

// These tests send ReliabilityProfiles to a real kube-apiserver with the generated CRD installed and check that
// the schema (patterns, enums, bounds) and the CEL rules refuse bad profiles at admission time, with a message
// that names the field. Profiles are unstructured so that the tests can also send what the Go types cannot
// express: wrong types, unknown enum values, unknown fields.

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/json"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv/validationenv"
	"github.com/reliability-operator/reliability-operator/internal/validate"
)

// namespace holds every profile of these tests.
const namespace = "validation"

var (
	// k8s sends requests with strict field validation, as `kubectl apply` does by default, so that an unknown
	// field is refused instead of silently pruned.
	k8s client.Client
	// scheme knows the ReliabilityProfile types and the built-in ones.
	scheme = runtime.NewScheme()
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// Every profile goes through the CRD and the operator's validating webhook, as in a cluster.
	_, cfg, stop, err := validationenv.Start(render.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer stop()

	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	k8s, err = client.New(cfg, client.Options{Scheme: scheme, FieldValidation: metav1.FieldValidationStrict})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		fmt.Fprintln(os.Stderr, "creating the namespace:", err)
		return 1
	}
	return m.Run()
}

// baseProfile is a valid non-critical profile that uses most of the spec. Each case changes one thing in it.
const baseProfile = `
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata:
  name: checkout
  namespace: validation
spec:
  service: checkout
  tier: non-critical
  mode: Enforce
  selector:
    matchLabels:
      app.kubernetes.io/name: checkout
  metrics:
    port: 8067
    path: /metrics
    interval: 30s
    versionMetric: checkout_build_info
  slos:
  - name: availability
    description: Requests that do not fail with a server error.
    objective: "99.9"
    externalObjective: "99.5"
    window: 30d
    indicator:
      ratio:
        errors: http_requests_total{job="checkout",code=~"5.."}
        total: http_requests_total{job="checkout"}
  network:
    ingress:
    - from:
      - namespaceSelector:
          matchLabels:
            kubernetes.io/metadata.name: frontend
        podSelector:
          matchLabels:
            app.kubernetes.io/name: web
      ports:
      - port: 8080
        protocol: TCP
  disruption:
    maxUnavailable: 1
  logs:
    retentionDays: 7
  disasterRecovery:
    rpo: 1h
    rto: 4h
    lastRestoreTest: "2026-10-01"
  placement:
    maxSpotFraction: "0.5"
  dashboard:
    folder: payments
  exceptions:
  - rule: S-4
    reason: The payment provider calls back from addresses it does not publish.
    expires: "2027-03-31"
`

// profile is a ReliabilityProfile as a JSON object, with helpers to change it by path. A path element is a
// string (an object key) or an int (a list index).
type profile struct{ obj map[string]any }

func newProfile(t *testing.T) profile {
	t.Helper()
	obj, ok := fromYAML(t, baseProfile).(map[string]any)
	if !ok {
		t.Fatal("the base profile is not an object")
	}
	return profile{obj: obj}
}

// fromYAML parses YAML into JSON values, with whole numbers as int64 as the API machinery expects.
func fromYAML(t *testing.T, s string) any {
	t.Helper()
	j, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		t.Fatalf("parsing %q: %v", s, err)
	}
	return v
}

// parent returns the object or list that holds the last element of path, creating missing objects on the way.
func (p profile) parent(t *testing.T, path []any) any {
	t.Helper()
	var cur any = p.obj
	for i, key := range path[:len(path)-1] {
		switch k := key.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				t.Fatalf("path %v: element %d is not an object", path, i)
			}
			if _, found := m[k]; !found {
				m[k] = map[string]any{}
			}
			cur = m[k]
		case int:
			l, ok := cur.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("path %v: element %d is not a list with an item %d", path, i, k)
			}
			cur = l[k]
		default:
			t.Fatalf("path %v: element %d is a %T", path, i, key)
		}
	}
	return cur
}

// set sets the value at path. A string value that starts with "yaml:" is parsed as YAML.
func (p profile) set(t *testing.T, value any, path ...any) {
	t.Helper()
	if s, ok := value.(string); ok && strings.HasPrefix(s, "yaml:") {
		value = fromYAML(t, strings.TrimPrefix(s, "yaml:"))
	}
	switch parent := p.parent(t, path).(type) {
	case map[string]any:
		parent[path[len(path)-1].(string)] = value
	case []any:
		parent[path[len(path)-1].(int)] = value
	default:
		t.Fatalf("path %v: the parent is a %T", path, parent)
	}
}

// del removes the object key at path.
func (p profile) del(t *testing.T, path ...any) {
	t.Helper()
	parent, ok := p.parent(t, path).(map[string]any)
	if !ok {
		t.Fatalf("path %v: the parent is not an object", path)
	}
	delete(parent, path[len(path)-1].(string))
}

// create sends the profile, in dry-run mode so that nothing is left behind, and returns what the API server
// would have stored.
func (p profile) create(t *testing.T, name string) (*unstructured.Unstructured, error) {
	t.Helper()
	u := &unstructured.Unstructured{Object: p.obj}
	if u.GetName() == "" {
		u.SetName(name)
	}
	// The CLI's `validate` runs the same rules offline, the webhook's included; it must reach the API
	// server's verdict every time.
	offline := offlineValidator(t).Profile(runtime.DeepCopyJSON(u.Object), render.Options{}).Errors
	err := k8s.Create(context.Background(), u, client.DryRunAll)
	if (err == nil) != (len(offline) == 0) {
		t.Errorf("offline validation disagrees with the API server:\n  API server: %v\n  offline:    %v", err, offline.ToAggregate())
	}
	return u, err
}

// offlineValidator compiles the generated CRD, as `reliability-operator validate` does.
func offlineValidator(t *testing.T) *validate.Validator {
	t.Helper()
	v, err := validationenv.Offline()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// caseName turns a test name into an object name.
func caseName(t *testing.T) string {
	name := strings.ToLower(t.Name())
	name = name[strings.LastIndex(name, "/")+1:]
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteRune('-')
		}
	}
	name = strings.Trim(b.String(), "-")
	if len(name) > 60 {
		name = strings.Trim(name[:60], "-")
	}
	return name
}

func TestValidProfilesAreAccepted(t *testing.T) {
	t.Run("the base profile", func(t *testing.T) {
		if _, err := newProfile(t).create(t, caseName(t)); err != nil {
			t.Fatalf("the base profile was refused:\n%v", err)
		}
	})

	cases := []struct {
		name   string
		mutate func(t *testing.T, p profile)
	}{
		{"a critical profile with a disaster-recovery runbook", func(t *testing.T, p profile) {
			p.set(t, "critical", "spec", "tier")
			p.set(t, "https://runbooks.example.com/checkout/disaster-recovery", "spec", "disasterRecovery", "runbookURL")
			p.set(t, int64(30), "spec", "logs", "retentionDays")
		}},
		{"a critical profile without a runbook but with an R-4 exception", func(t *testing.T, p profile) {
			p.set(t, "critical", "spec", "tier")
			p.del(t, "spec", "logs")
			p.set(t, `yaml:
- rule: R-4
  reason: The recovery plan is being rewritten with the platform team.
  expires: "2027-01-31"
`, "spec", "exceptions")
		}},
		{"a 90-day log retention with an O-5 exception", func(t *testing.T, p profile) {
			p.set(t, int64(90), "spec", "logs", "retentionDays")
			p.set(t, `yaml:
- rule: O-5
  reason: Payment disputes need three months of request logs.
  expires: "2027-05-31"
`, "spec", "exceptions")
		}},
		{"a critical log tier on a non-critical service keeps logs 30 days", func(t *testing.T, p profile) {
			p.set(t, "yaml: {tier: critical, retentionDays: 30}", "spec", "logs")
		}},
		{"maxUnavailable as a percentage", func(t *testing.T, p profile) {
			p.set(t, "25%", "spec", "disruption", "maxUnavailable")
		}},
		{"maxUnavailable 100%", func(t *testing.T, p profile) {
			p.set(t, "100%", "spec", "disruption", "maxUnavailable")
		}},
		{"minAvailable 0", func(t *testing.T, p profile) {
			p.set(t, "yaml: {minAvailable: 0}", "spec", "disruption")
		}},
		{"minAvailable 99%", func(t *testing.T, p profile) {
			p.set(t, "yaml: {minAvailable: 99%}", "spec", "disruption")
		}},
		{"a latency SLO with six decimals", func(t *testing.T, p profile) {
			p.set(t, `yaml:
- name: latency
  objective: "99.999999"
  window: 28d
  indicator:
    latency:
      histogram: http_request_duration_seconds{job="checkout"}
      threshold: "0.25"
`, "spec", "slos")
		}},
		{"a public ingress written as a CIDR with exceptions", func(t *testing.T, p profile) {
			p.set(t, `yaml:
- from:
  - cidr: 0.0.0.0/0
    except: [10.0.0.0/8, 192.168.0.0/16]
  ports:
  - {port: 8080, endPort: 8090}
`, "spec", "network", "ingress")
		}},
		{"a selector with only matchExpressions", func(t *testing.T, p profile) {
			p.set(t, "yaml: {matchExpressions: [{key: app, operator: In, values: [checkout]}]}", "spec", "selector")
		}},
		{"a default burn-rate tier disabled", func(t *testing.T, p profile) {
			p.set(t, "yaml: {tiers: [{name: ticket-slow, disabled: true}]}", "spec", "slos", 0, "alerting")
		}},
		{"a default burn-rate tier with only a new burn rate", func(t *testing.T, p profile) {
			p.set(t, "yaml: {tiers: [{name: page-fast, burnRate: '10'}]}", "spec", "slos", 0, "alerting")
		}},
		{"a new burn-rate tier with every field", func(t *testing.T, p profile) {
			p.set(t, `yaml:
tiers:
- {name: page-medium, severity: page, burnRate: "6", longWindow: 6h, shortWindow: 30m}
`, "spec", "slos", 0, "alerting")
		}},
		{"no spot at all", func(t *testing.T, p profile) {
			p.set(t, "0", "spec", "placement", "maxSpotFraction")
		}},

		// Routing.
		{"routing labels and annotations on the profile and on an SLO", func(t *testing.T, p profile) {
			p.set(t, `yaml:
labels: {team: payments, slack_channel: "#payments-oncall"}
annotations: {dashboard_url: "https://grafana.example.com/d/checkout", note: "first line\nsecond line\tindented"}
`, "spec", "routing")
			p.set(t, "yaml: {labels: {team: checkout-core}, annotations: {dashboard_url: 'https://grafana.example.com/d/availability'}}",
				"spec", "slos", 0, "routing")
		}},
		// Go's text/template only opens an action at the two bytes "{{": a space between the braces, a lone
		// brace, closing braces and look-alike characters are plain text to Prometheus.
		{"routing values with braces that are not a template delimiter", func(t *testing.T, p profile) {
			p.set(t, map[string]any{"labels": map[string]any{
				"spaced": "{ {", "closing": "}}", "trailing": "payments{", "fullwidth": "\uff5b\uff5b .Labels }}",
			}, "annotations": map[string]any{"spaced": "{ { $value } }", "closing": "}} done"}}, "spec", "routing")
		}},
		{"a routing label value of 256 characters and an annotation value of 1024", func(t *testing.T, p profile) {
			p.set(t, map[string]any{"labels": map[string]any{"team": strings.Repeat("a", 256)},
				"annotations": map[string]any{"note": strings.Repeat("a", 1024)}}, "spec", "routing")
		}},
		{"ten routing labels", func(t *testing.T, p profile) {
			labels := map[string]any{}
			for i := range 10 {
				labels[fmt.Sprintf("l%d", i)] = "v"
			}
			p.set(t, labels, "spec", "routing", "labels")
		}},
		// Only controls are refused: letters of any script and emoji joined by a zero-width joiner are text.
		{"routing values in other scripts and with an emoji sequence", func(t *testing.T, p profile) {
			p.set(t, map[string]any{"labels": map[string]any{"team": "paiements-équipe 支付 👩‍💻"},
				"annotations": map[string]any{"note": "שלום مرحبا"}}, "spec", "routing")
		}},
		{"an empty routing annotation value", func(t *testing.T, p profile) {
			p.set(t, "yaml: {annotations: {note: ''}}", "spec", "routing")
		}},

		// Grouped SLOs.
		{"an SLO grouped by two labels with the smallest bound on its groups", func(t *testing.T, p profile) {
			p.set(t, "yaml: [route, customer_tier]", "spec", "slos", 0, "groupBy")
			p.set(t, int64(1), "spec", "slos", 0, "maxGroups")
		}},
		{"an SLO grouped by three labels with the largest bound on its groups", func(t *testing.T, p profile) {
			p.set(t, "yaml: [route, customer_tier, _region]", "spec", "slos", 0, "groupBy")
			p.set(t, int64(1000), "spec", "slos", 0, "maxGroups")
		}},
		{"a grouped SLO with routing labels other than its groups", func(t *testing.T, p profile) {
			p.set(t, "yaml: [route]", "spec", "slos", 0, "groupBy")
			p.set(t, "yaml: {labels: {team: payments}}", "spec", "slos", 0, "routing")
			p.set(t, "yaml: {labels: {owner: payments}}", "spec", "routing")
		}},
		{"an empty groupBy without maxGroups", func(t *testing.T, p profile) {
			p.set(t, []any{}, "spec", "slos", 0, "groupBy")
		}},

		// Indicators.
		{"a boolGauge indicator", func(t *testing.T, p profile) {
			p.set(t, `yaml: {boolGauge: {selector: 'probe_success{job="blackbox",instance="https://shop.example.com"}'}}`,
				"spec", "slos", 0, "indicator")
		}},
		{"a promQL indicator", func(t *testing.T, p profile) {
			p.set(t, `yaml:
promQL:
  errors: sum(rate(grpc_server_handled_total{grpc_code!="OK"}[$window]))
  total: sum(rate(grpc_server_handled_total[$window]))
`, "spec", "slos", 0, "indicator")
		}},

		// Game days.
		{"game days at the shortest cadence, one held in UTC", func(t *testing.T, p profile) {
			p.set(t, `yaml:
cadence: 7d
held:
- name: 2026-11-db-failover
  start: "2026-11-12T14:00:00Z"
  end: "2026-11-12T16:30:00Z"
  scenario: primary database failover
  actionsURL: https://wiki.example.com/gamedays/2026-11
`, "spec", "gameDays")
		}},
		{"game days at the longest cadence", func(t *testing.T, p profile) {
			p.set(t, "366d", "spec", "gameDays", "cadence")
		}},
		{"a game day of exactly 24 hours with nanoseconds", func(t *testing.T, p profile) {
			p.set(t, `yaml: [{name: a, start: "2026-11-12T14:00:00.123456789Z", end: "2026-11-13T14:00:00.123456789Z"}]`,
				"spec", "gameDays", "held")
		}},
		// The window is measured between instants: 23:30 at -01:00 is 00:30 UTC, 30 minutes before the end.
		{"a game day whose start and end have different offsets", func(t *testing.T, p profile) {
			p.set(t, `yaml: [{name: a, start: "2026-11-12T23:30:00-01:00", end: "2026-11-13T01:00:00Z"}]`,
				"spec", "gameDays", "held")
		}},
		{"a game day at the last second of a leap year's 29 February", func(t *testing.T, p profile) {
			p.set(t, `yaml: [{name: a, start: "2024-02-29T23:59:59+23:59", end: "2024-02-29T23:59:59Z"}]`,
				"spec", "gameDays", "held")
		}},
		{"24 game days held", func(t *testing.T, p profile) {
			held := make([]any, 24)
			for i := range held {
				held[i] = map[string]any{"name": fmt.Sprintf("g%d", i), "start": "2026-11-12T14:00:00Z", "end": "2026-11-12T15:00:00Z"}
			}
			p.set(t, held, "spec", "gameDays", "held")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProfile(t)
			tc.mutate(t, p)
			if _, err := p.create(t, caseName(t)); err != nil {
				t.Fatalf("the profile was refused:\n%v", err)
			}
		})
	}

	// The defaults of the schema fill in a profile that has only the required fields.
	t.Run("a minimal profile is defaulted", func(t *testing.T) {
		p := profile{obj: fromYAML(t, `
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata: {namespace: validation}
spec:
  service: minimal
  tier: non-critical
  selector: {matchLabels: {app: minimal}}
`).(map[string]any)}
		u, err := p.create(t, caseName(t))
		if err != nil {
			t.Fatalf("the minimal profile was refused:\n%v", err)
		}
		var rp v1alpha1.ReliabilityProfile
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &rp); err != nil {
			t.Fatalf("the stored profile does not decode: %v", err)
		}
		s := rp.Spec
		if s.Mode != v1alpha1.ModeEnforce || s.Metrics.Port != v1alpha1.DefaultMetricsPort ||
			s.Metrics.Path != v1alpha1.DefaultMetricsPath || s.Metrics.Interval != v1alpha1.DefaultScrapeInterval ||
			s.Disruption == nil || s.Disruption.MaxUnavailable == nil ||
			s.Disruption.MaxUnavailable.IntValue() != int(v1alpha1.DefaultMaxUnavailable) {
			t.Errorf("the defaults were not applied: %+v", u.Object["spec"])
		}
	})

	// Game days that name no cadence are due monthly.
	t.Run("game days without a cadence are monthly", func(t *testing.T) {
		p := newProfile(t)
		p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00Z"), "spec", "gameDays", "held")
		u, err := p.create(t, caseName(t))
		if err != nil {
			t.Fatalf("the profile was refused:\n%v", err)
		}
		cadence, _, _ := unstructured.NestedString(u.Object, "spec", "gameDays", "cadence")
		if cadence != "30d" {
			t.Errorf("spec.gameDays.cadence = %q; want the default 30d", cadence)
		}
	})
}

func TestInvalidProfilesAreRefused(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(t *testing.T, p profile)
		// want are substrings of the API server's error: the field path and a word of the rule.
		want []string
	}{
		// SLOs.
		{
			name:   "an objective that is not a number",
			mutate: func(t *testing.T, p profile) { p.set(t, "high", "spec", "slos", 0, "objective") },
			want:   []string{`spec.slos[0].objective`, `must be`},
		},
		{
			name:   "an objective of 100 leaves no error budget",
			mutate: func(t *testing.T, p profile) { p.set(t, "100", "spec", "slos", 0, "objective") },
			want:   []string{`spec.slos[0].objective`, `must be`},
		},
		{
			name:   "an objective of 0",
			mutate: func(t *testing.T, p profile) { p.set(t, "0", "spec", "slos", 0, "objective") },
			want:   []string{`spec.slos[0].objective`, `above 0 and below 100`},
		},
		{
			name:   "an objective given as a number instead of a string",
			mutate: func(t *testing.T, p profile) { p.set(t, 99.9, "spec", "slos", 0, "objective") },
			want:   []string{`spec.slos[0].objective`, `must be of type string`},
		},
		{
			name:   "an external objective equal to the internal one breaks R-2",
			mutate: func(t *testing.T, p profile) { p.set(t, "99.9", "spec", "slos", 0, "externalObjective") },
			want:   []string{`spec.slos[0]`, `strictly higher than externalObjective`, `R-2`},
		},
		{
			name:   "an external objective above the internal one breaks R-2",
			mutate: func(t *testing.T, p profile) { p.set(t, "99.95", "spec", "slos", 0, "externalObjective") },
			want:   []string{`spec.slos[0]`, `strictly higher than externalObjective`, `R-2`},
		},
		{
			name: "an indicator with both ratio and latency",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {histogram: 'http_request_duration_seconds{job="checkout"}', threshold: "0.25"}`,
					"spec", "slos", 0, "indicator", "latency")
			},
			want: []string{`spec.slos[0].indicator`, `exactly one of ratio, latency, boolGauge or promQL`},
		},
		{
			name:   "an indicator with neither ratio nor latency",
			mutate: func(t *testing.T, p profile) { p.set(t, map[string]any{}, "spec", "slos", 0, "indicator") },
			want:   []string{`spec.slos[0].indicator`, `exactly one of ratio, latency, boolGauge or promQL`},
		},
		{
			name:   "an SLO window in hours",
			mutate: func(t *testing.T, p profile) { p.set(t, "45h", "spec", "slos", 0, "window") },
			want:   []string{`spec.slos[0].window`, `must be`},
		},
		{
			name:   "an SLO window longer than 90 days",
			mutate: func(t *testing.T, p profile) { p.set(t, "91d", "spec", "slos", 0, "window") },
			want:   []string{`spec.slos[0].window`, `must be`},
		},
		{
			name: "a latency threshold of 0",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {latency: {histogram: 'http_request_duration_seconds{job="checkout"}', threshold: "0"}}`,
					"spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.latency.threshold`, `must be a positive`},
		},
		{
			name: "two SLOs with the same name",
			mutate: func(t *testing.T, p profile) {
				slos := p.obj["spec"].(map[string]any)["slos"].([]any)
				dup := runtime.DeepCopyJSONValue(slos[0])
				p.set(t, append(slos, dup), "spec", "slos")
			},
			want: []string{`spec.slos[1]`, `Duplicate value`},
		},
		{
			name: "a new burn-rate tier without its windows",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {tiers: [{name: page-medium, burnRate: '6'}]}", "spec", "slos", 0, "alerting")
			},
			want: []string{`spec.slos[0].alerting.tiers[0]`, `needs severity, burnRate, longWindow and shortWindow`},
		},

		// Service, tier, mode and selector.
		{
			name:   "an unknown tier",
			mutate: func(t *testing.T, p profile) { p.set(t, "gold", "spec", "tier") },
			want:   []string{`spec.tier`, `Unsupported value: "gold"`, `"critical"`, `"non-critical"`},
		},
		{
			name:   "a tier given as a number",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(1), "spec", "tier") },
			want:   []string{`spec.tier`, `must be of type string`},
		},
		{
			name:   "an unknown mode",
			mutate: func(t *testing.T, p profile) { p.set(t, "DryRun", "spec", "mode") },
			want:   []string{`spec.mode`, `Unsupported value: "DryRun"`, `"Enforce"`, `"Audit"`},
		},
		{
			name:   "a service name with uppercase letters",
			mutate: func(t *testing.T, p profile) { p.set(t, "Checkout", "spec", "service") },
			want:   []string{`spec.service`, `must be`},
		},
		{
			name:   "a missing service",
			mutate: func(t *testing.T, p profile) { p.del(t, "spec", "service") },
			want:   []string{`spec.service`, `Required value`},
		},
		{
			name:   "an empty selector would select every pod",
			mutate: func(t *testing.T, p profile) { p.set(t, map[string]any{}, "spec", "selector") },
			want:   []string{`spec.selector`, `empty selector selects every pod`},
		},
		{
			name:   "a selector with an empty matchLabels",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {matchLabels: {}}", "spec", "selector") },
			want:   []string{`spec.selector`, `empty selector selects every pod`},
		},
		{
			name: "a selector with an unknown operator",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {matchExpressions: [{key: app, operator: Equals, values: [checkout]}]}", "spec", "selector")
			},
			want: []string{`spec.selector`, `matchExpressions`, `operator`},
		},
		{
			name: "an In requirement without values",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {matchExpressions: [{key: app, operator: In}]}", "spec", "selector")
			},
			want: []string{`spec.selector.matchExpressions[0]`, `In and NotIn need values`},
		},
		{
			name: "an ingress peer whose podSelector has an unknown operator",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {matchExpressions: [{key: app, operator: Equals, values: [web]}]}", "spec", "network", "ingress", 0, "from", 0, "podSelector")
			},
			want: []string{`spec.network.ingress[0].from[0].podSelector.matchExpressions[0].operator`, `Unsupported value`},
		},
		{
			name: "an ingress peer whose namespaceSelector has Exists with values",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {matchExpressions: [{key: team, operator: Exists, values: [a]}]}", "spec", "network", "ingress", 0, "from", 0, "namespaceSelector")
			},
			want: []string{`spec.network.ingress[0].from[0].namespaceSelector.matchExpressions[0]`, `Exists and DoesNotExist take none`},
		},
		{
			name:   "an SLO window too short for the fast burn-rate tiers",
			mutate: func(t *testing.T, p profile) { p.set(t, "6d", "spec", "slos", 0, "window") },
			want:   []string{`spec.slos[0].window`, `must be`},
		},
		{
			name: "a burn-rate tier window of zero",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {tiers: [{name: page-fast, shortWindow: 0m}]}", "spec", "slos", 0, "alerting")
			},
			want: []string{`spec.slos[0].alerting.tiers[0].shortWindow`, `must be`},
		},
		{
			name: "a burn-rate tier whose short window is not shorter than its long one",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {tiers: [{name: page-fast, longWindow: 1h, shortWindow: 60m}]}", "spec", "slos", 0, "alerting")
			},
			want: []string{`spec.slos[0].alerting.tiers[0].shortWindow`, `must be shorter than longWindow`},
		},
		{
			name:   "a profile name longer than a label value may be",
			mutate: func(t *testing.T, p profile) { p.set(t, strings.Repeat("a", 64), "metadata", "name") },
			want:   []string{`metadata.name`, `at most 63 characters`},
		},
		{
			name:   "a scrape interval with its units out of order",
			mutate: func(t *testing.T, p profile) { p.set(t, "30s1m", "spec", "metrics", "interval") },
			want:   []string{`spec.metrics.interval`, `must be`},
		},

		// Metrics.
		{
			name:   "a metrics port of 0",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(0), "spec", "metrics", "port") },
			want:   []string{`spec.metrics.port`, `greater than or equal to 1`},
		},
		{
			name:   "a metrics port above 65535",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(70000), "spec", "metrics", "port") },
			want:   []string{`spec.metrics.port`, `less than or equal to 65535`},
		},
		{
			name:   "a metrics port given as a string",
			mutate: func(t *testing.T, p profile) { p.set(t, "8067", "spec", "metrics", "port") },
			want:   []string{`spec.metrics.port`, `must be of type integer`},
		},
		{
			name:   "a metrics path without a leading slash",
			mutate: func(t *testing.T, p profile) { p.set(t, "metrics", "spec", "metrics", "path") },
			want:   []string{`spec.metrics.path`, `must be`},
		},
		{
			name:   "a scrape interval that is not a duration",
			mutate: func(t *testing.T, p profile) { p.set(t, "30 seconds", "spec", "metrics", "interval") },
			want:   []string{`spec.metrics.interval`, `must be`},
		},

		// Disruption.
		{
			name:   "both maxUnavailable and minAvailable",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(1), "spec", "disruption", "minAvailable") },
			want:   []string{`spec.disruption`, `exactly one of maxUnavailable or minAvailable`},
		},
		{
			name:   "maxUnavailable 0 blocks every node drain",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(0), "spec", "disruption", "maxUnavailable") },
			want:   []string{`spec.disruption.maxUnavailable`, `D-6`},
		},
		{
			name:   "maxUnavailable 0% blocks every node drain",
			mutate: func(t *testing.T, p profile) { p.set(t, "0%", "spec", "disruption", "maxUnavailable") },
			want:   []string{`spec.disruption.maxUnavailable`, `D-6`},
		},
		{
			name:   "minAvailable 100% blocks every node drain",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {minAvailable: 100%}", "spec", "disruption") },
			want:   []string{`spec.disruption.minAvailable`, `100% blocks every node drain`, `D-6`},
		},

		// Network.
		{
			name: "a malformed CIDR",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [{cidr: 10.0.0.0/33}]", "spec", "network", "ingress", 0, "from")
			},
			want: []string{`spec.network.ingress[0].from[0].cidr`, `must be an IPv4 or IPv6 CIDR`},
		},
		{
			name: "a CIDR together with a podSelector",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "10.0.0.0/8", "spec", "network", "ingress", 0, "from", 0, "cidr")
			},
			want: []string{`spec.network.ingress[0].from[0]`, `either cidr or namespaceSelector/podSelector`},
		},
		{
			name: "except without a CIDR",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [10.1.0.0/16]", "spec", "network", "ingress", 0, "from", 0, "except")
			},
			want: []string{`spec.network.ingress[0].from[0]`, `except: only allowed with cidr`},
		},
		{
			name: "an ingress rule with no source",
			mutate: func(t *testing.T, p profile) {
				p.set(t, []any{}, "spec", "network", "ingress", 0, "from")
			},
			want: []string{`spec.network.ingress[0].from`, `at least 1 items`},
		},
		{
			name: "an endPort below the port",
			mutate: func(t *testing.T, p profile) {
				p.set(t, int64(8000), "spec", "network", "ingress", 0, "ports", 0, "endPort")
			},
			want: []string{`spec.network.ingress[0].ports[0]`, `endPort: must not be lower than port`},
		},
		{
			name: "an unknown protocol",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "ICMP", "spec", "network", "ingress", 0, "ports", 0, "protocol")
			},
			want: []string{`spec.network.ingress[0].ports[0].protocol`, `Unsupported value: "ICMP"`},
		},

		// Tier rules.
		{
			name: "a critical tier without a disaster-recovery runbook breaks R-4",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "critical", "spec", "tier")
				p.set(t, int64(30), "spec", "logs", "retentionDays")
			},
			want: []string{`spec.disasterRecovery.runbookURL`, `required for tier critical`, `R-4`},
		},
		{
			name:   "a 90-day log retention without an O-5 exception",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(90), "spec", "logs", "retentionDays") },
			want:   []string{`spec.logs.retentionDays`, `longer than the tier's retention`, `O-5`},
		},
		{
			name:   "a 3-day log retention for a non-critical service",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(3), "spec", "logs", "retentionDays") },
			want:   []string{`spec.logs.retentionDays`, `shorter than the tier's retention`, `O-5`},
		},
		{
			name:   "a log retention above a year",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(400), "spec", "logs", "retentionDays") },
			want:   []string{`spec.logs.retentionDays`, `less than or equal to 365`},
		},
		{
			name:   "a spot fraction above one half breaks P-3",
			mutate: func(t *testing.T, p profile) { p.set(t, "0.6", "spec", "placement", "maxSpotFraction") },
			want:   []string{`spec.placement.maxSpotFraction`, `at most 0.5`, `P-3`},
		},
		{
			name: "a spot label key with an empty DNS label would make every pod invalid",
			mutate: func(t *testing.T, p profile) {
				p.set(t, map[string]any{"key": "example..com/spot", "value": "true"}, "spec", "placement", "spotNodeLabel")
			},
			want: []string{`spec.placement.spotNodeLabel.key`},
		},
		{
			name: "a spot label key whose name is longer than 63 characters",
			mutate: func(t *testing.T, p profile) {
				p.set(t, map[string]any{"key": "example.com/" + strings.Repeat("s", 64), "value": "true"}, "spec", "placement", "spotNodeLabel")
			},
			want: []string{`spec.placement.spotNodeLabel.key`, `at most 63`},
		},
		{
			name:   "an RPO under 10 minutes",
			mutate: func(t *testing.T, p profile) { p.set(t, "5m", "spec", "disasterRecovery", "rpo") },
			want:   []string{`spec.disasterRecovery.rpo`, `from 10m`},
		},
		{
			name:   "an RTO of zero",
			mutate: func(t *testing.T, p profile) { p.set(t, "0h", "spec", "disasterRecovery", "rto") },
			want:   []string{`spec.disasterRecovery.rto`, `must be`},
		},
		{
			name:   "a last restore test that is not a date",
			mutate: func(t *testing.T, p profile) { p.set(t, "last week", "spec", "disasterRecovery", "lastRestoreTest") },
			want:   []string{`spec.disasterRecovery.lastRestoreTest`, `date`},
		},

		// Exceptions.
		{
			name:   "an exception with an unknown rule id",
			mutate: func(t *testing.T, p profile) { p.set(t, "X-1", "spec", "exceptions", 0, "rule") },
			want:   []string{`spec.exceptions[0].rule`, `must be`},
		},
		{
			name:   "an exception with a reason too short to review",
			mutate: func(t *testing.T, p profile) { p.set(t, "because", "spec", "exceptions", 0, "reason") },
			want:   []string{`spec.exceptions[0].reason`, `at least 10 chars`},
		},
		{
			name:   "an exception that never expires",
			mutate: func(t *testing.T, p profile) { p.del(t, "spec", "exceptions", 0, "expires") },
			want:   []string{`spec.exceptions[0].expires`, `Required value`},
		},
		{
			name:   "an exception whose expiry is not a date",
			mutate: func(t *testing.T, p profile) { p.set(t, "next year", "spec", "exceptions", 0, "expires") },
			want:   []string{`spec.exceptions[0].expires`, `date`},
		},

		// Indicators.
		{
			name: "an indicator with both ratio and boolGauge",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {selector: up}", "spec", "slos", 0, "indicator", "boolGauge")
			},
			want: []string{`spec.slos[0].indicator`, `exactly one of ratio, latency, boolGauge or promQL`},
		},
		{
			name: "an indicator with both boolGauge and promQL",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {boolGauge: {selector: up}, promQL: {errors: 'sum(rate(e[$window]))', total: 'sum(rate(t[$window]))'}}",
					"spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator`, `exactly one of ratio, latency, boolGauge or promQL`},
		},
		{
			name: "a boolGauge with an empty selector",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {boolGauge: {selector: ''}}", "spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.boolGauge.selector`, `at least 1 chars long`},
		},
		{
			name: "a boolGauge selector longer than 1024 characters",
			mutate: func(t *testing.T, p profile) {
				p.set(t, map[string]any{"boolGauge": map[string]any{"selector": strings.Repeat("u", 1025)}}, "spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.boolGauge.selector`, `Too long`},
		},
		{
			name: "a promQL error rate without $window",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {promQL: {errors: 'sum(rate(e[5m]))', total: 'sum(rate(t[$window]))'}}", "spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.promQL.errors`, `must use $window`},
		},
		{
			name: "a promQL total rate without $window",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {promQL: {errors: 'sum(rate(e[$window]))', total: 'sum(rate(t[5m]))'}}", "spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.promQL.total`, `must use $window`},
		},
		{
			name: "a promQL indicator without a total",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {promQL: {errors: 'sum(rate(e[$window]))'}}", "spec", "slos", 0, "indicator")
			},
			want: []string{`spec.slos[0].indicator.promQL.total`, `Required value`},
		},

		// Grouped SLOs.
		{
			name:   "maxGroups without groupBy",
			mutate: func(t *testing.T, p profile) { p.set(t, int64(10), "spec", "slos", 0, "maxGroups") },
			want:   []string{`spec.slos[0].maxGroups`, `only applies with groupBy`},
		},
		{
			name: "maxGroups with an empty groupBy",
			mutate: func(t *testing.T, p profile) {
				p.set(t, []any{}, "spec", "slos", 0, "groupBy")
				p.set(t, int64(10), "spec", "slos", 0, "maxGroups")
			},
			want: []string{`spec.slos[0].maxGroups`, `only applies with groupBy`},
		},
		{
			name: "maxGroups of 0",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [route]", "spec", "slos", 0, "groupBy")
				p.set(t, int64(0), "spec", "slos", 0, "maxGroups")
			},
			want: []string{`spec.slos[0].maxGroups`, `greater than or equal to 1`},
		},
		{
			name: "maxGroups above 1000",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [route]", "spec", "slos", 0, "groupBy")
				p.set(t, int64(1001), "spec", "slos", 0, "maxGroups")
			},
			want: []string{`spec.slos[0].maxGroups`, `less than or equal to 1000`},
		},
		{
			name:   "a groupBy label given twice",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: [route, route]", "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy[1]`, `Duplicate value: "route"`},
		},
		{
			name:   "four groupBy labels",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: [a, b, c, d]", "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy`, `must have at most 3 items`},
		},
		{
			name:   "a groupBy entry that is the operator's slo label",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: [route, slo]", "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy`, `are the operator's own labels`},
		},
		{
			name:   "a groupBy entry that is Prometheus' reserved __name__",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: [__name__]", "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy`, `must be a Prometheus label name`},
		},
		{
			name:   "a groupBy entry with a hyphen",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: [customer-tier]", "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy`, `must be a Prometheus label name`},
		},
		{
			name:   "a groupBy entry of 64 characters",
			mutate: func(t *testing.T, p profile) { p.set(t, []any{strings.Repeat("r", 64)}, "spec", "slos", 0, "groupBy") },
			want:   []string{`spec.slos[0].groupBy[0]`, `Too long`},
		},
		// A routing label would overwrite the group's label on every series: all groups would merge into
		// one series set and the rule group would fail to evaluate.
		{
			name: "an SLO's routing label that is one of its groupBy labels",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [route]", "spec", "slos", 0, "groupBy")
				p.set(t, "yaml: {labels: {route: /checkout}}", "spec", "slos", 0, "routing")
			},
			want: []string{`spec.slos[0].routing.labels`, `must not set a label the SLO groups by`},
		},
		{
			name: "a profile's routing label that an SLO groups by",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [customer_tier]", "spec", "slos", 0, "groupBy")
				p.set(t, "yaml: {labels: {customer_tier: gold}}", "spec", "routing")
			},
			want: []string{`spec.routing.labels`, `must not set a label an SLO groups by`},
		},

		// Routing.
		{
			name:   "a routing label that is the operator's namespace label",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {namespace: payments}}", "spec", "routing") },
			want:   []string{`spec.routing.labels`, `set by the operator or Prometheus`},
		},
		{
			name:   "a routing label that is prometheus-operator's replica label",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {prometheus_replica: a}}", "spec", "routing") },
			want:   []string{`spec.routing.labels`, `set by the operator or Prometheus`},
		},
		{
			name: "an SLO's routing label that is the operator's severity label",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {labels: {severity: info}}", "spec", "slos", 0, "routing")
			},
			want: []string{`spec.slos[0].routing.labels`, `set by the operator or Prometheus`},
		},
		{
			name:   "a routing label reserved by Prometheus with __",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {__tenant: a}}", "spec", "routing") },
			want:   []string{`spec.routing.labels`, `must be a Prometheus label name`},
		},
		{
			name:   "a routing label with a hyphen",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {team-name: a}}", "spec", "routing") },
			want:   []string{`spec.routing.labels`, `must be a Prometheus label name`},
		},
		{
			name:   "a routing label starting with a digit",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {1team: a}}", "spec", "routing") },
			want:   []string{`spec.routing.labels`, `must be a Prometheus label name`},
		},
		{
			name: "a routing label key of 64 characters",
			mutate: func(t *testing.T, p profile) {
				p.set(t, map[string]any{strings.Repeat("k", 64): "a"}, "spec", "routing", "labels")
			},
			want: []string{`spec.routing.labels`, `at most 63 characters`},
		},
		{
			name: "eleven routing labels",
			mutate: func(t *testing.T, p profile) {
				labels := map[string]any{}
				for i := range 11 {
					labels[fmt.Sprintf("l%d", i)] = "v"
				}
				p.set(t, labels, "spec", "routing", "labels")
			},
			want: []string{`spec.routing.labels`, `must have at most 10 items`},
		},
		{
			name: "a routing label value that is a template",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {labels: {team: '{{ $labels.namespace }}'}}`, "spec", "routing")
			},
			want: []string{`spec.routing.labels[team]`, `must not contain '{{'`},
		},
		{
			name: "a routing label value with a template that trims spaces",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {labels: {team: 'a {{- query "up{namespace=\"other\"}" }}'}}`, "spec", "routing")
			},
			want: []string{`spec.routing.labels[team]`, `must not contain '{{'`},
		},
		{
			name: "an SLO's routing label value that is a template",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {labels: {team: '{{ with query "up" }}{{ . }}{{ end }}'}}`, "spec", "slos", 0, "routing")
			},
			want: []string{`spec.slos[0].routing.labels[team]`, `must not contain '{{'`},
		},
		{
			name:   "an empty routing label value, which Prometheus treats as no label",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {labels: {team: ''}}", "spec", "routing") },
			want:   []string{`spec.routing.labels.team`, `at least 1 chars long`},
		},
		{
			name:   "a routing label value of 257 characters",
			mutate: func(t *testing.T, p profile) { p.set(t, strings.Repeat("a", 257), "spec", "routing", "labels", "team") },
			want:   []string{`spec.routing.labels.team`, `Too long`},
		},
		{
			name: "a routing label value with a newline",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "payments\nteam: security", "spec", "routing", "labels", "team")
			},
			want: []string{`spec.routing.labels[team]`, `must not contain control characters`},
		},
		{
			name:   "a routing label value with a NUL",
			mutate: func(t *testing.T, p profile) { p.set(t, "pay\x00ments", "spec", "routing", "labels", "team") },
			want:   []string{`spec.routing.labels[team]`, `must not contain control characters`},
		},
		{
			name:   "a routing label value with a C1 control character",
			mutate: func(t *testing.T, p profile) { p.set(t, "pay\u0085ments", "spec", "routing", "labels", "team") },
			want:   []string{`spec.routing.labels[team]`, `must not contain control characters`},
		},
		{
			name: "a routing label value with a Unicode line separator",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "payments\u2028team: security", "spec", "routing", "labels", "team")
			},
			want: []string{`spec.routing.labels[team]`, `line or paragraph separators`},
		},
		{
			name:   "a routing label value with a right-to-left mark",
			mutate: func(t *testing.T, p profile) { p.set(t, "payments\u200f", "spec", "routing", "labels", "team") },
			want:   []string{`spec.routing.labels[team]`, `bidirectional marks`},
		},
		{
			name:   "a routing label value with a right-to-left override",
			mutate: func(t *testing.T, p profile) { p.set(t, "pay\u202ements", "spec", "routing", "labels", "team") },
			want:   []string{`spec.routing.labels[team]`, `bidirectional marks, embeddings, overrides or isolates`},
		},
		{
			name: "a routing annotation the operator writes",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {annotations: {summary: all is well}}", "spec", "routing")
			},
			want: []string{`spec.routing.annotations`, `summary and description are written by the operator`},
		},
		{
			name: "an SLO's routing annotation runbook_url",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {annotations: {runbook_url: 'https://runbooks.example.com'}}", "spec", "slos", 0, "routing")
			},
			want: []string{`spec.slos[0].routing.annotations`, `runbook_url comes from spec.slos[].alerting.runbookURL`},
		},
		{
			name: "a routing annotation key Grafana keeps for itself",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: {annotations: {__dashboardUid__: abc}}", "spec", "routing")
			},
			want: []string{`spec.routing.annotations`, `not starting with a digit or '__'`},
		},
		{
			name:   "a routing annotation key with a dot",
			mutate: func(t *testing.T, p profile) { p.set(t, "yaml: {annotations: {grafana.url: abc}}", "spec", "routing") },
			want:   []string{`spec.routing.annotations`, `each key must be letters, digits and '_'`},
		},
		{
			name: "a routing annotation value that is a template",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {annotations: {note: 'value {{ $value }}'}}`, "spec", "routing")
			},
			want: []string{`spec.routing.annotations[note]`, `must not contain '{{'`},
		},
		{
			name: "an SLO's routing annotation value that is a template",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml: {annotations: {note: '{{template "x"}}'}}`, "spec", "slos", 0, "routing")
			},
			want: []string{`spec.slos[0].routing.annotations[note]`, `must not contain '{{'`},
		},
		{
			name: "a routing annotation value of 1025 characters",
			mutate: func(t *testing.T, p profile) {
				p.set(t, strings.Repeat("a", 1025), "spec", "routing", "annotations", "note")
			},
			want: []string{`spec.routing.annotations.note`, `Too long`},
		},
		{
			name:   "a routing annotation value with an escape character",
			mutate: func(t *testing.T, p profile) { p.set(t, "\x1b[31mred", "spec", "routing", "annotations", "note") },
			want:   []string{`spec.routing.annotations[note]`, `control characters other than newline and tab`},
		},
		{
			name:   "a routing annotation value with a right-to-left isolate",
			mutate: func(t *testing.T, p profile) { p.set(t, "ok\u2067", "spec", "routing", "annotations", "note") },
			want:   []string{`spec.routing.annotations[note]`, `bidirectional marks, embeddings, overrides or isolates`},
		},

		// Game days.
		{
			name:   "a game-day cadence under a week",
			mutate: func(t *testing.T, p profile) { p.set(t, "6d", "spec", "gameDays", "cadence") },
			want:   []string{`spec.gameDays.cadence`, `from 7d to 366d`},
		},
		{
			name:   "a game-day cadence over a year",
			mutate: func(t *testing.T, p profile) { p.set(t, "367d", "spec", "gameDays", "cadence") },
			want:   []string{`spec.gameDays.cadence`, `from 7d to 366d`},
		},
		{
			name:   "a game-day cadence in weeks",
			mutate: func(t *testing.T, p profile) { p.set(t, "4w", "spec", "gameDays", "cadence") },
			want:   []string{`spec.gameDays.cadence`, `from 7d to 366d`},
		},
		{
			name:   "a game-day cadence with a leading zero",
			mutate: func(t *testing.T, p profile) { p.set(t, "030d", "spec", "gameDays", "cadence") },
			want:   []string{`spec.gameDays.cadence`, `from 7d to 366d`},
		},
		{
			name:   "a game-day cadence longer than four characters",
			mutate: func(t *testing.T, p profile) { p.set(t, "1000d", "spec", "gameDays", "cadence") },
			want:   []string{`spec.gameDays.cadence`, `Too long`},
		},
		{
			name: "a game day named with uppercase letters",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("DB-Failover", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00Z"), "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].name`, `lowercase letters, digits and '-'`},
		},
		{
			name: "a game day without a start",
			mutate: func(t *testing.T, p profile) {
				p.set(t, "yaml: [{name: a, end: '2026-11-12T15:00:00Z'}]", "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].start`, `Required value`},
		},
		{
			name: "two game days with the same name",
			mutate: func(t *testing.T, p profile) {
				p.set(t, `yaml:
- {name: a, start: "2026-11-12T14:00:00Z", end: "2026-11-12T15:00:00Z"}
- {name: a, start: "2026-12-12T14:00:00Z", end: "2026-12-12T15:00:00Z"}
`, "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[1]`, `Duplicate value`},
		},
		{
			name: "25 game days held",
			mutate: func(t *testing.T, p profile) {
				held := make([]any, 25)
				for i := range held {
					held[i] = map[string]any{"name": fmt.Sprintf("g%d", i), "start": "2026-11-12T14:00:00Z", "end": "2026-11-12T15:00:00Z"}
				}
				p.set(t, held, "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held`, `must have at most 24 items`},
		},
		{
			name: "a game day that ends before it starts",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T13:00:00Z"), "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].end`, `must be after start`},
		},
		{
			name: "a game day that ends when it starts",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T14:00:00Z"), "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].end`, `must be after start`},
		},
		// 15:00 at +02:00 is 13:00 UTC: an hour before the start, though it reads later.
		{
			name: "a game day whose end is earlier only once its offset is applied",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00+02:00"), "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].end`, `must be after start`},
		},
		{
			name: "a game day one second longer than 24 hours",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-13T14:00:01Z"), "spec", "gameDays", "held")
			},
			want: []string{`spec.gameDays.held[0].end`, `at most 24h after its start`},
		},
		{
			name: "an actions URL that is not http or https",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00Z"), "spec", "gameDays", "held")
				p.set(t, "javascript:alert(1)", "spec", "gameDays", "held", 0, "actionsURL")
			},
			want: []string{`spec.gameDays.held[0].actionsURL`, `must be an http or https URL`},
		},
		{
			name: "an actions URL with a space",
			mutate: func(t *testing.T, p profile) {
				p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00Z"), "spec", "gameDays", "held")
				p.set(t, "https://wiki.example.com/game days", "spec", "gameDays", "held", 0, "actionsURL")
			},
			want: []string{`spec.gameDays.held[0].actionsURL`, `must be an http or https URL`},
		},
	}

	// The schema's date-time format accepts the first five of these, which Go's time.Parse(time.RFC3339) and
	// CEL's timestamp() refuse; each is refused by the field's rule, naming the field, never by a rule that
	// fails to evaluate. Each is tried as the start and as the end of a game day.
	for _, bad := range []struct{ name, value string }{
		{"a lower-case t and z", "2026-11-12t14:00:00z"},
		{"a lower-case z", "2026-11-12T14:00:00z"},
		{"a fraction after an x", "2026-11-12T14:00:00x5Z"},
		{"an offset of +99:99", "2026-11-12T14:00:00+99:99"},
		{"an offset of +24:00", "2026-11-12T14:00:00+24:00"},
		{"a fraction after a comma", "2026-11-12T14:00:00,5Z"},
		{"a fraction of ten digits", "2026-11-12T14:00:00.1234567890Z"},
		{"no offset", "2026-11-12T14:00:00"},
		{"a space for the T", "2026-11-12 14:00:00Z"},
		{"no seconds", "2026-11-12T14:00Z"},
		{"only a date", "2026-11-12"},
		{"the 30th of February", "2026-02-30T14:00:00Z"},
		{"hour 24", "2026-11-12T24:00:00Z"},
		{"a leap second", "2026-12-31T23:59:60Z"},
		{"year 0", "0000-01-01T00:00:00Z"},
		{"year 1969", "1969-12-31T23:00:00Z"},
		{"year 10000", "10000-01-01T00:00:00Z"},
		{"a Unix time", "1794578400"},
	} {
		for _, f := range []string{"start", "end"} {
			cases = append(cases, struct {
				name   string
				mutate func(t *testing.T, p profile)
				want   []string
			}{
				name: fmt.Sprintf("a game day %s with %s", f, bad.name),
				mutate: func(t *testing.T, p profile) {
					p.set(t, gameDay("a", "2026-11-12T14:00:00Z", "2026-11-12T15:00:00Z"), "spec", "gameDays", "held")
					p.set(t, bad.value, "spec", "gameDays", "held", 0, f)
				},
				want: []string{"spec.gameDays.held[0]." + f, `must be an RFC 3339 time from 1970 to 2999`},
			})
		}
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProfile(t)
			tc.mutate(t, p)
			_, err := p.create(t, caseName(t))
			if err == nil {
				t.Fatalf("the profile was accepted; want it refused with %q", tc.want)
			}
			t.Logf("refused: %v", err)
			if !apierrors.IsInvalid(err) {
				t.Errorf("the error is not Invalid (reason %q):\n%v", apierrors.ReasonForError(err), err)
			}
			// A CEL rule that reads a field the profile does not set fails to evaluate: the profile is then
			// refused because the rule is broken, whatever the profile says.
			for _, failed := range []string{"no such key", "no such overload", "formatted string", "out of range"} {
				if strings.Contains(err.Error(), failed) {
					t.Errorf("a validation rule failed to evaluate:\n%v", err)
				}
			}
			// Every refusal says in words what is allowed; a bare pattern tells a user nothing.
			if strings.Contains(err.Error(), "should match '") {
				t.Errorf("a refusal gives only a regular expression:\n%v", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the error does not contain %q:\n%v", s, err)
				}
			}
		})
	}
}

// An unknown field is a typo or a field of another version. With strict field validation (what `kubectl apply`
// and this test's client ask for) the API server refuses it as a bad request, not as an invalid object: the
// body is refused when it is decoded, before any validation runs.
func TestUnknownFieldsAreRefused(t *testing.T) {
	cases := []struct {
		name string
		path []any
		want string
	}{
		{"an unknown field in spec", []any{"spec", "retries"}, `unknown field "spec.retries"`},
		{"a backup of other namespaces, which a profile may not ask for", []any{"spec", "disasterRecovery", "backup", "includedNamespaces"},
			`unknown field "spec.disasterRecovery.backup.includedNamespaces"`},
		{"a misspelt field in an SLO", []any{"spec", "slos", 0, "objectiv"}, `unknown field "spec.slos[0].objectiv"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := newProfile(t)
			p.set(t, "3", tc.path...)
			_, err := p.create(t, caseName(t))
			if err == nil {
				t.Fatalf("the profile was accepted; want it refused with %q", tc.want)
			}
			t.Logf("refused: %v", err)
			if !apierrors.IsBadRequest(err) {
				t.Errorf("the error is not BadRequest (reason %q):\n%v", apierrors.ReasonForError(err), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("the error does not contain %q:\n%v", tc.want, err)
			}
		})
	}
}

// gameDay is a list of one held game day, for spec.gameDays.held.
func gameDay(name, start, end string) []any {
	return []any{map[string]any{"name": name, "start": start, "end": end}}
}
