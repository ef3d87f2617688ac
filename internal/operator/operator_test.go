package operator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestTheOperatorWorksInAClusterWithoutPrometheusOperator installs only the operator's own CRD: many clusters
// adopt the operator before prometheus-operator. The operator must start, apply the children whose kinds
// exist, and report the ServiceMonitor and PrometheusRule as not installed instead of crash-looping. Without
// the Gateway API, S-2 judges the Services and Ingresses and says that it read no route. Reconciles meanwhile
// do not ask discovery again whether the kinds came. Once prometheus-operator's CRDs are installed, the
// operator creates the profile's ServiceMonitor and PrometheusRule without a restart.
func TestTheOperatorWorksInAClusterWithoutPrometheusOperator(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops: cleanups run last-in first-out

	ctx, c, requests := startCountedOperator(t, cfg, operator.Options{})
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	rp := &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: "checkout", Tier: v1alpha1.TierNonCritical,
			Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Network:  &v1alpha1.NetworkSpec{},
		},
	}
	if err := c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if last = checkKindNotInstalled(ctx, c); last == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last != nil {
		t.Fatal(last)
	}
	rp = &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, rp); err != nil {
		t.Fatal(err)
	}
	if l := rp.Status.Logs; l == nil || l.Enforced || !strings.Contains(l.Message, "No log backend is configured") || l.Retention != "7d" {
		t.Errorf("status.logs = %+v, want 7d, not enforced, saying no backend is configured", rp.Status.Logs)
	}
	s2 := slices.IndexFunc(rp.Status.Compliance, func(v v1alpha1.RuleVerdict) bool { return v.Rule == v1alpha1.RuleS2 })
	if s2 < 0 || rp.Status.Compliance[s2].Result != v1alpha1.CompliancePass ||
		!strings.Contains(rp.Status.Compliance[s2].Message, "Gateway API routes were not checked: the Gateway API is not installed") {
		t.Errorf("status.compliance = %+v, want S-2 Pass saying the Gateway API is not installed", rp.Status.Compliance)
	}
	for _, child := range []client.Object{&policyv1.PodDisruptionBudget{}, &networkingv1.NetworkPolicy{}} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, child); err != nil {
			t.Errorf("%T was not applied: %v", child, err)
		}
	}

	// A reconcile of the profile, whose ServiceMonitor and PrometheusRule still have no API.
	requests.quiet(t, time.Second)
	from, reconciles := requests.len(), testenv.ReconcileCount(t)
	rp.Labels = map[string]string{"team": "payments"}
	if err := c.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "a reconcile after the label change", func() error {
		if testenv.ReconcileCount(t) <= reconciles {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
	requests.quiet(t, time.Second)
	for _, r := range requests.since(from) {
		path, _, _ := strings.Cut(strings.TrimPrefix(r, "GET "), "?")
		if parts := strings.Split(strings.Trim(path, "/"), "/"); parts[0] == "api" && len(parts) <= 2 || parts[0] == "apis" && len(parts) <= 3 {
			t.Errorf("a reconcile asked discovery: %s", r)
		}
	}

	promDir, err := testenv.ModuleDir(testenv.PrometheusOperatorModule)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{filepath.Join(promDir, "example", "prometheus-operator-crd")}}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the ServiceMonitor and PrometheusRule are applied once their CRDs are installed", func() error {
		live := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
			return err
		}
		if ready := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ReadyCondition); ready == nil || ready.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready = %+v; resources %+v", ready, live.Status.Resources)
		}
		for _, child := range []client.Object{&monitoringv1.ServiceMonitor{}, &monitoringv1.PrometheusRule{}} {
			if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, child); err != nil {
				return fmt.Errorf("%T: %w", child, err)
			}
		}
		return nil
	})
}

func checkKindNotInstalled(ctx context.Context, c client.Client) error {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, rp); err != nil {
		return err
	}
	degraded := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.DegradedCondition)
	if degraded == nil || degraded.Status != metav1.ConditionTrue || degraded.Reason != v1alpha1.KindNotInstalledReason {
		return fmt.Errorf("Degraded = %+v, want True/KindNotInstalled", degraded)
	}
	states := map[string]v1alpha1.ChildState{}
	for _, r := range rp.Status.Resources {
		states[r.Kind] = r.State
		if r.Kind == "ServiceMonitor" || r.Kind == "PrometheusRule" {
			if !strings.Contains(r.Message, "not installed") {
				return fmt.Errorf("%s message %q does not say the API is not installed", r.Kind, r.Message)
			}
		}
	}
	want := map[string]v1alpha1.ChildState{"ServiceMonitor": v1alpha1.ChildFailed, "PrometheusRule": v1alpha1.ChildFailed,
		"PodDisruptionBudget": v1alpha1.ChildInSync, "NetworkPolicy": v1alpha1.ChildInSync}
	for k, v := range want {
		if states[k] != v {
			return fmt.Errorf("resources = %v, want %v", states, want)
		}
	}
	return nil
}

// TestStatusReportsTheErrorBudgetAndWhetherPrometheusLoadedTheRules runs the operator with --prometheus-url
// against a real Prometheus. Prometheus holds two hours of backfilled traffic with 1% errors and the rule
// file of one profile, as prometheus-operator would have written it; the other profile's rules were never
// loaded, as when the Prometheus ruleSelector does not match them.
func TestStatusReportsTheErrorBudgetAndWhetherPrometheusLoadedTheRules(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops: cleanups run last-in first-out

	loaded, notLoaded := sloProfile("checkout"), sloProfile("search")
	end := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	data := testenv.RequestTraffic("checkout", "shop", end, 10, 0.01)
	// Prometheus starts once the operator has created the PrometheusRule, with the rule in the file
	// prometheus-operator would write: <namespace>-<name>-<uid>.yaml.
	addr := testenv.FreeAddress(t)
	ctx, c := startOperator(t, cfg, operator.Options{
		PrometheusURL: "http://" + addr, PrometheusInterval: time.Second,
		Render: render.Options{SLOWindowInterval: time.Second}}) // the budget within seconds, not 5 minutes
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	for _, rp := range []*v1alpha1.ReliabilityProfile{loaded, notLoaded} {
		if err := c.Create(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	rule := &monitoringv1.PrometheusRule{}
	deadline := time.Now().Add(30 * time.Second)
	for c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, rule) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the operator created no PrometheusRule within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rulesYAML, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	testenv.StartPrometheusAt(t, addr, data, map[string]string{fmt.Sprintf("shop-checkout-%s.yaml", rule.UID): string(rulesYAML)})

	status := func(name string) (*v1alpha1.ReliabilityProfile, *metav1.Condition) {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: name}, rp); err != nil {
			t.Fatal(err)
		}
		return rp, meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.RulesLoadedCondition)
	}
	deadline = time.Now().Add(45 * time.Second)
	for {
		rp, cond := status("checkout")
		if cond != nil && cond.Status == metav1.ConditionTrue && len(rp.Status.SLOs) == 1 &&
			rp.Status.SLOs[0].ErrorBudgetRemaining == "80.0%" && rp.Status.SLOs[0].SLI == "99.000%" && rp.Status.SLOs[0].BurnRate1h == "0.20" {
			t.Logf("status.slos = %+v", rp.Status.SLOs)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkout: RulesLoaded %+v, slos %+v; want Loaded, 80.0%% budget, 99.000%% SLI, burn rate 0.20", cond, rp.Status.SLOs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	_, cond := status("search")
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != v1alpha1.NotLoadedReason ||
		!strings.Contains(cond.Message, "search-slo-availability") || !strings.Contains(cond.Message, "ruleSelector") {
		t.Errorf("search: RulesLoaded = %+v, want False/NotLoaded naming the group and the ruleSelector", cond)
	}
	if rp, _ := status("search"); meta.IsStatusConditionFalse(rp.Status.Conditions, v1alpha1.ReadyCondition) {
		t.Errorf("rules not loaded by Prometheus must not make the children un-Ready: %+v", rp.Status.Conditions)
	}
}

func sloProfile(service string) *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: service, Tier: v1alpha1.TierNonCritical,
			Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": service}},
			SLOs: []v1alpha1.SLO{{
				Name: "availability", Objective: "95", Window: "30d",
				Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{
					Errors: `http_requests_total{job="` + service + `",code=~"5.."}`,
					Total:  `http_requests_total{job="` + service + `"}`,
				}},
			}},
		},
	}
}

// startOperator runs the operator until the test ends and returns a client of the test's own.
func startOperator(t *testing.T, cfg *rest.Config, o operator.Options) (context.Context, client.Client) {
	t.Helper()
	ctx, c, stop := runOperator(t, cfg, o)
	t.Cleanup(stop)
	return ctx, c
}

// runOperator runs the operator until stop, which waits until it has stopped; a test that stops it also
// registers stop as a cleanup, in case it fails before.
func runOperator(t *testing.T, cfg *rest.Config, o operator.Options) (context.Context, client.Client, func()) {
	t.Helper()
	o.MetricsAddress, o.SeveralInOneProcess = "0", true
	if o.ProbeAddress == "" {
		o.ProbeAddress = "0" // no probes, unless the test reads them
	}
	mgr, err := operator.New(cfg, o)
	if err != nil {
		t.Fatalf("the operator did not start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		stop()
		t.Fatal(err)
	}
	return ctx, c, stop
}

// TestAForeignLokiConfigMapIsNeverOverwritten: a ConfigMap of the configured name that the operator did not
// create is left as it is, and every profile says its retention is not enforced, and why.
func TestAForeignLokiConfigMapIsNeverOverwritten(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"loki", "shop"} {
		if err := admin.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "loki", Name: "loki-runtime"},
		Data: map[string]string{"runtime-config.yaml": "overrides: {}\n"}}
	if err := admin.Create(context.Background(), foreign); err != nil {
		t.Fatal(err)
	}
	ctx, c := startOperator(t, cfg, operator.Options{
		LokiRetentionConfigMap: types.NamespacedName{Namespace: "loki", Name: "loki-runtime"}, LokiTenant: "fake"})
	if err := c.Create(ctx, sloProfile("checkout")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, rp); err != nil {
			t.Fatal(err)
		}
		if l := rp.Status.Logs; l != nil && !l.Enforced && strings.Contains(l.Message, "ConfigMap loki/loki-runtime exists and is not owned") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.logs = %+v, want not enforced because of the foreign ConfigMap", rp.Status.Logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	live := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(foreign), live); err != nil || live.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the foreign ConfigMap was changed (err=%v): %+v", err, live.Data)
	}
}

// TestLogRetentionThroughLoggingOperatorFlows installs logging-operator's CRDs (generated from its Go SDK) and
// runs the operator with a ClusterOutput per tier: each profile gets a Flow to its tier's output, a change of
// tier moves it, and a selector a Flow cannot express is reported, not guessed.
func TestLogRetentionThroughLoggingOperatorFlows(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, c := startOperator(t, cfg, operator.Options{Render: render.Options{
		LoggingClusterOutputs: map[v1alpha1.Tier]string{v1alpha1.TierCritical: "logs-30d", v1alpha1.TierNonCritical: "logs-7d"}}})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	rp := sloProfile("checkout")
	rp.Spec.Tier = v1alpha1.TierCritical
	rp.Spec.DisasterRecovery = &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks.example.com/checkout"}
	if err := c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	flowOutput := func() (string, error) {
		flow := &unstructured.Unstructured{}
		flow.SetGroupVersionKind(schema.GroupVersionKind{Group: "logging.banzaicloud.io", Version: "v1beta1", Kind: "Flow"})
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, flow); err != nil {
			return "", err
		}
		refs, _, _ := unstructured.NestedStringSlice(flow.Object, "spec", "globalOutputRefs")
		return strings.Join(refs, ","), nil
	}
	waitFor := func(what string, check func() error) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			err := check()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("a Flow to the critical output, enforced", func() error {
		if out, err := flowOutput(); err != nil || out != "logs-30d" {
			return fmt.Errorf("Flow output %q (err=%v)", out, err)
		}
		live := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
			return err
		}
		if l := live.Status.Logs; l == nil || !l.Enforced || l.Retention != "30d" {
			return fmt.Errorf("status.logs = %+v", l)
		}
		return nil
	})

	// A non-critical log tier, agreed as an O-5 exception for this critical service, moves the Flow to the
	// 7-day output.
	updateProfile(ctx, t, c, client.ObjectKeyFromObject(rp), func(live *v1alpha1.ReliabilityProfile) {
		live.Spec.Logs = &v1alpha1.LogsSpec{Tier: v1alpha1.TierNonCritical}
		live.Spec.Exceptions = append(live.Spec.Exceptions, v1alpha1.Exception{Rule: "O-5",
			Reason: "Its logs are copies of the payment provider's, which keeps them for a year.", Expires: "2027-03-31"})
	})
	waitFor("the Flow moved to the non-critical output", func() error {
		if out, err := flowOutput(); err != nil || out != "logs-7d" {
			return fmt.Errorf("Flow output %q (err=%v)", out, err)
		}
		return nil
	})

	// Flows select by labels only: a selector of expressions is reported, and the last Flow is kept.
	updateProfile(ctx, t, c, client.ObjectKeyFromObject(rp), func(live *v1alpha1.ReliabilityProfile) {
		live.Spec.Selector = v1alpha1.LabelSelector{MatchExpressions: []v1alpha1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"checkout"}}}}
	})
	waitFor("the Flow reported as not renderable", func() error {
		got := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rp), got); err != nil {
			return err
		}
		for _, r := range got.Status.Resources {
			if r.Kind == "Flow" && r.State == v1alpha1.ChildFailed && strings.Contains(r.Message, "select pods by labels only") {
				if l := got.Status.Logs; l == nil || l.Enforced {
					return fmt.Errorf("status.logs = %+v, want not enforced", l)
				}
				return nil
			}
		}
		return fmt.Errorf("resources = %+v", got.Status.Resources)
	})
	if out, err := flowOutput(); err != nil || out != "logs-7d" {
		t.Errorf("the last good Flow was not kept: %q (err=%v)", out, err)
	}
}

// updateProfile changes a stored profile's spec, reading it again when the operator's status write came
// between the read and the update.
func updateProfile(ctx context.Context, t *testing.T, c client.Client, key client.ObjectKey, mutate func(*v1alpha1.ReliabilityProfile)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, key, live); err != nil {
			return err
		}
		mutate(live)
		return c.Update(ctx, live)
	})
	if err != nil {
		t.Fatal(err)
	}
}
