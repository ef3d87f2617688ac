package operator_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestTheOperatorWorksInAClusterWithoutPrometheusOperator installs only the operator's own CRD: many clusters
// adopt the operator before prometheus-operator. The operator must start, apply the children whose kinds
// exist, and report the ServiceMonitor and PrometheusRule as not installed instead of crash-looping.
func TestTheOperatorWorksInAClusterWithoutPrometheusOperator(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	mgr, err := operator.New(cfg, operator.Options{MetricsAddress: "0", ProbeAddress: "0"})
	if err != nil {
		t.Fatalf("the operator did not start without prometheus-operator's CRDs: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}()

	c, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		t.Fatal(err)
	}
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
	for _, child := range []client.Object{&policyv1.PodDisruptionBudget{}, &networkingv1.NetworkPolicy{}} {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, child); err != nil {
			t.Errorf("%T was not applied: %v", child, err)
		}
	}
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
