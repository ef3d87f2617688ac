package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// policyProfile is a profile of the tier with one availability SLO at the objective, a network spec and a
// disaster-recovery plan that leave the policy's fields out.
func policyProfile(ns, name string, tier v1alpha1.Tier, objective string) *v1alpha1.ReliabilityProfile {
	rp := sloProfile(name)
	rp.Namespace = ns
	rp.Spec.Tier = tier
	rp.Spec.SLOs[0].Objective = objective
	rp.Spec.Network = &v1alpha1.NetworkSpec{}
	rp.Spec.DisasterRecovery = &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks.example.com/" + name, LastRestoreTest: "2026-11-20"}
	return rp
}

// TestChangingThePolicyReachesEveryProfile runs the operator with --monitoring-labels release=flag, then
// creates, changes and deletes the cluster's ReliabilityPolicy: its monitoring labels replace the flag's on
// every ServiceMonitor and PrometheusRule, its alert labels reach every alert, a tier's minimum objective
// makes the profile below it fail R-2, naming the minimum, and its tier defaults (restore drill age,
// Prometheus' namespace) reach the profiles that leave them out, while the one that sets its own keeps it.
// Deleting the policy gives the flags back.
func TestChangingThePolicyReachesEveryProfile(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	const ns = "policied"
	ctx, c := startOperator(t, cfg, operator.Options{Render: render.Options{MonitoringLabels: map[string]string{"release": "flag"}}})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	checkout := policyProfile(ns, "checkout", v1alpha1.TierCritical, "99.5")
	search := policyProfile(ns, "search", v1alpha1.TierCritical, "99.95")
	search.Spec.DisasterRecovery.RestoreTestMaxAge = "60d" // its own: the policy must not replace it
	cart := policyProfile(ns, "cart", v1alpha1.TierNonCritical, "99")
	for _, rp := range []*v1alpha1.ReliabilityProfile{checkout, search, cart} {
		if err := c.Create(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"checkout", "search", "cart"}
	waitFor(t, "children labelled with the flag's release=flag", everyChild(ctx, c, ns, names, "release", "flag"))

	pol := &v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}, Spec: v1alpha1.ReliabilityPolicySpec{
		Tiers:      v1alpha1.TierPolicies{Critical: &v1alpha1.TierPolicy{MinObjective: "99.9", RestoreTestMaxAge: "30d", RPO: "1h", LogRetentionDays: ptr.To[int32](45)}},
		Monitoring: &v1alpha1.MonitoringPolicy{Labels: map[string]v1alpha1.LabelValue{"release": "kube-prometheus-stack"}, Namespace: "observability"},
		Alerting:   &v1alpha1.AlertingPolicy{Labels: map[string]string{"cluster": "prod-eu"}, PageSeverity: "critical"},
	}}
	if err := c.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every ServiceMonitor and PrometheusRule follows the policy's labels", everyChild(ctx, c, ns, names, "release", "kube-prometheus-stack"))
	waitFor(t, "every alert carries the policy's alert labels", everyAlertHas(ctx, c, ns, names, "cluster", "prod-eu"))
	waitFor(t, "paging burn-rate alerts have the policy's severity", func() error {
		rule := &monitoringv1.PrometheusRule{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cart"}, rule); err != nil {
			return err
		}
		severities := map[string]int{}
		for _, g := range rule.Spec.Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					severities[r.Labels["severity"]]++
				}
			}
		}
		if severities["critical"] == 0 || severities["page"] > 0 || severities["ticket"] == 0 {
			return fmt.Errorf("alert severities %v, want critical for paging alerts (none left as page) and ticket kept", severities)
		}
		return nil
	})
	waitFor(t, "checkout, below the critical minimum, fails R-2", verdictOf(ctx, c, ns, "checkout", v1alpha1.RuleR2, v1alpha1.ComplianceFail,
		"Below the critical tier's minimum objective of 99.9% (ReliabilityPolicy default): availability (99.5%)"))
	waitFor(t, "search, above it, passes R-2 saying so", verdictOf(ctx, c, ns, "search", v1alpha1.RuleR2, v1alpha1.CompliancePass, "minimum of 99.9%"))
	waitFor(t, "cart's tier has no minimum", verdictOf(ctx, c, ns, "cart", v1alpha1.RuleR2, v1alpha1.CompliancePass, "recorded and alerted on."))
	waitFor(t, "the tier's restore drill age reaches checkout, not search's own", func() error {
		for name, due := range map[string]string{"checkout": "2026-12-20", "search": "2027-01-19", "cart": "2027-02-18"} {
			rp := &v1alpha1.ReliabilityProfile{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
				return err
			}
			if d := rp.Status.DisasterRecovery; d == nil || d.RestoreTestDue != due {
				return fmt.Errorf("%s: disaster recovery status %+v, want the next drill due %s", name, d, due)
			}
			if want := map[string]string{"checkout": "1h", "search": "1h", "cart": ""}[name]; rp.Status.DisasterRecovery.RPO != want {
				return fmt.Errorf("%s: rpo %q in status, want %q (the critical tier's)", name, rp.Status.DisasterRecovery.RPO, want)
			}
		}
		return nil
	})
	waitFor(t, "the critical tier's log retention in status", func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, rp); err != nil {
			return err
		}
		if l := rp.Status.Logs; l == nil || l.Retention != "45d" {
			return fmt.Errorf("status.logs %+v, want the policy's 45d", l)
		}
		return nil
	})
	waitFor(t, "Prometheus' namespace from the policy in the NetworkPolicy", func() error {
		np := &networkingv1.NetworkPolicy{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "cart"}, np); err != nil {
			return err
		}
		if got := np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName]; got != "observability" {
			return fmt.Errorf("the metrics port is open to namespace %q, want observability", got)
		}
		return nil
	})
	// The stored profiles hold none of it.
	stored := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(checkout), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Spec.DisasterRecovery.RestoreTestMaxAge != "" || stored.Spec.Network.MonitoringNamespaceSelector != nil || stored.Spec.Logs != nil {
		t.Errorf("the policy's values were written into the stored profile: %+v", stored.Spec)
	}

	// Raising nothing and lowering the minimum: checkout meets it.
	pol.Spec.Tiers.Critical.MinObjective = "99"
	if err := c.Update(ctx, pol); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "checkout passes R-2 once the minimum is lowered", verdictOf(ctx, c, ns, "checkout", v1alpha1.RuleR2, v1alpha1.CompliancePass, "minimum of 99%"))

	if err := c.Delete(ctx, pol); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "without a policy, the flag's labels again", everyChild(ctx, c, ns, names, "release", "flag"))
}

// TestThePolicyIsBoundedByTheManifesto: the API server refuses a policy that breaks the manifesto's floors,
// naming the field and the rule, and any name but default.
func TestThePolicyIsBoundedByTheManifesto(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		policy v1alpha1.ReliabilityPolicy
		want   string
	}{
		{"critical logs 20 days", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Tiers: v1alpha1.TierPolicies{Critical: &v1alpha1.TierPolicy{LogRetentionDays: ptr.To[int32](20)}}}},
			"spec.tiers.critical.logRetentionDays: must be at least 30 (O-5"},
		{"non-critical logs 3 days", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Tiers: v1alpha1.TierPolicies{NonCritical: &v1alpha1.TierPolicy{LogRetentionDays: ptr.To[int32](3)}}}},
			"spec.tiers.nonCritical.logRetentionDays"},
		{"spot 0.6", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Tiers: v1alpha1.TierPolicies{NonCritical: &v1alpha1.TierPolicy{MaxSpotFraction: "0.6"}}}},
			"P-3: spot is at most 50% of the fleet"},
		{"an operator's alert label", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Alerting: &v1alpha1.AlertingPolicy{Labels: map[string]string{"severity": "info"}}}},
			"alerting.labels: severity, service, slo, namespace and alertname are set by the operator"},
		{"another name", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}},
			"metadata.name: must be default"},
		// Each would make every ServiceMonitor and PrometheusRule, or every Flow, of the cluster fail to apply.
		{"a monitoring label that is no label key", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Monitoring: &v1alpha1.MonitoringPolicy{Labels: map[string]v1alpha1.LabelValue{"not a key!": "x"}}}},
			"monitoring.labels: each key must be a label key"},
		{"a monitoring label value with a space", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Monitoring: &v1alpha1.MonitoringPolicy{Labels: map[string]v1alpha1.LabelValue{"release": "kube prometheus"}}}},
			"monitoring.labels: each value must be a label value"},
		{"a ClusterOutput that is no name", v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha1.ReliabilityPolicySpec{
			Backends: &v1alpha1.BackendsPolicy{LoggingClusterOutputs: &v1alpha1.TierOutputs{Critical: "Logs_30d", NonCritical: "logs-7d"}}}},
			"backends.loggingClusterOutputs.critical: must be the name of a logging-operator ClusterOutput"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Create(context.Background(), &tt.policy)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("created: %v, want a refusal mentioning %q", err, tt.want)
			}
		})
	}
}

// TestAProfileStoredByThePreviousCRDKeepsWorking stores a profile under the 0.1.0 CRD, which wrote its
// defaults into it (restoreTestMaxAge 90d, the monitoring namespace selector), installs the current CRD and
// a policy with other tier defaults, and starts the operator: the old profile is Ready and keeps the values
// it was stored with (they are its own now), while a profile created under the current CRD gets the policy's.
func TestAProfileStoredByThePreviousCRDKeepsWorking(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "reliabilityprofiles-0.1.0.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	current, _ := profileCRDs(t)
	// The policy's CRD is new: an upgrade installs it beside the profile's.
	cfg := startWithProfileCRD(t, b)
	ctx := context.Background()
	admin, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	const ns = "migrated"
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	old := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "ReliabilityProfile",
		"metadata": map[string]any{"name": "checkout", "namespace": ns},
		"spec": map[string]any{"service": "checkout", "tier": "critical",
			"selector":         map[string]any{"matchLabels": map[string]any{"app": "checkout"}},
			"network":          map[string]any{},
			"disasterRecovery": map[string]any{"runbookURL": "https://runbooks.example.com/checkout", "lastRestoreTest": "2026-11-20"}},
	}}
	if err := admin.Create(ctx, old); err != nil {
		t.Fatalf("the 0.1.0 CRD refused the profile: %v", err)
	}
	dr, _, _ := unstructured.NestedString(old.Object, "spec", "disasterRecovery", "restoreTestMaxAge")
	if dr != "90d" {
		t.Fatalf("the 0.1.0 CRD stored restoreTestMaxAge %q, want its default 90d (the premise of this test)", dr)
	}
	replaceCRD(t, admin, current, "the API server serving the current CRD, which writes no default of the policy's", func() error {
		probe := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": v1alpha1.GroupVersion.String(), "kind": "ReliabilityProfile",
			"metadata": map[string]any{"name": "crd-probe", "namespace": ns},
			"spec": map[string]any{"service": "probe", "tier": "non-critical",
				"selector": map[string]any{"matchLabels": map[string]any{"app": "probe"}}, "network": map[string]any{}},
		}}
		if err := admin.Create(ctx, probe, client.DryRunAll); err != nil {
			return err
		}
		if _, found, _ := unstructured.NestedMap(probe.Object, "spec", "network", "monitoringNamespaceSelector"); found {
			return fmt.Errorf("the monitoring namespace selector is still defaulted")
		}
		return nil
	})
	pol := &v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}, Spec: v1alpha1.ReliabilityPolicySpec{
		Tiers:      v1alpha1.TierPolicies{Critical: &v1alpha1.TierPolicy{RestoreTestMaxAge: "30d"}},
		Monitoring: &v1alpha1.MonitoringPolicy{Namespace: "observability"}}}
	if err := admin.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	_, c := startOperator(t, cfg, operator.Options{})
	fresh := policyProfile(ns, "search", v1alpha1.TierCritical, "99.9")
	if err := c.Create(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both Ready; the stored one with its stored values, the new one with the policy's", func() error {
		for name, want := range map[string][2]string{"checkout": {"2027-02-18", "monitoring"}, "search": {"2026-12-20", "observability"}} {
			rp := &v1alpha1.ReliabilityProfile{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
				return err
			}
			if cond := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition); cond == nil || cond.Status != metav1.ConditionTrue {
				return fmt.Errorf("%s: Ready %+v", name, cond)
			}
			if d := rp.Status.DisasterRecovery; d == nil || d.RestoreTestDue != want[0] {
				return fmt.Errorf("%s: disaster recovery %+v, want the next drill due %s", name, d, want[0])
			}
			np := &networkingv1.NetworkPolicy{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, np); err != nil {
				return err
			}
			if got := np.Spec.Ingress[0].From[0].NamespaceSelector.MatchLabels[corev1.LabelMetadataName]; got != want[1] {
				return fmt.Errorf("%s: metrics open to namespace %q, want %s", name, got, want[1])
			}
		}
		return nil
	})
}

// everyChild checks that each profile's ServiceMonitor and PrometheusRule carry the label.
func everyChild(ctx context.Context, c client.Client, ns string, profiles []string, key, value string) func() error {
	return func() error {
		for _, name := range profiles {
			for _, obj := range []client.Object{&monitoringv1.ServiceMonitor{}, &monitoringv1.PrometheusRule{}} {
				if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
					return err
				}
				if got := obj.GetLabels()[key]; got != value {
					return fmt.Errorf("%T %s: %s=%q, want %q", obj, name, key, got, value)
				}
			}
		}
		return nil
	}
}

func everyAlertHas(ctx context.Context, c client.Client, ns string, profiles []string, key, value string) func() error {
	return func() error {
		for _, name := range profiles {
			rule := &monitoringv1.PrometheusRule{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rule); err != nil {
				return err
			}
			for _, g := range rule.Spec.Groups {
				for _, r := range g.Rules {
					if r.Alert != "" && r.Labels[key] != value {
						return fmt.Errorf("%s: alert %s has %s=%q, want %q", name, r.Alert, key, r.Labels[key], value)
					}
				}
			}
		}
		return nil
	}
}

func verdictOf(ctx context.Context, c client.Client, ns, name, rule string, want v1alpha1.ComplianceResult, contains string) func() error {
	return func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
			return err
		}
		for _, v := range rp.Status.Compliance {
			if v.Rule == rule {
				if v.Result != want || !strings.Contains(v.Message, contains) {
					return fmt.Errorf("%s %s: %s %q, want %s mentioning %q", name, rule, v.Result, v.Message, want, contains)
				}
				return nil
			}
		}
		return fmt.Errorf("%s: no verdict on %s", name, rule)
	}
}
