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
			if strings.Contains(err.Error(), "no such key") {
				t.Errorf("a validation rule failed to evaluate:\n%v", err)
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
