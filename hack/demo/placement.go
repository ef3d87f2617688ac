package main

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// demoSpotPlacement creates a spot and an on-demand node and a ReplicaSet of ten pods of the profile's
// service, all created at once through the webhook, binds each pod where its affinity lets it go (envtest has
// no scheduler), and shows the profile's placement status.
func demoSpotPlacement(ctx context.Context, c client.Client, cfg *rest.Config, key client.ObjectKey) error {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, key, rp); err != nil {
		return err
	}
	step(fmt.Sprintf("Spot placement (P-3): a ReplicaSet of 10 %s pods, created at once through the webhook", rp.Spec.Service))
	nodes := map[string]string{"spot-1": "spot", "on-demand-1": "on-demand"}
	for name, capacity := range nodes {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"karpenter.sh/capacity-type": capacity}}}
		if err := c.Create(ctx, n); err != nil {
			return err
		}
		fmt.Printf("  node %-12s karpenter.sh/capacity-type=%s\n", name, capacity)
	}
	podLabels := map[string]string{"pod-template-hash": "7c9d"}
	for k, v := range rp.Spec.Selector.MatchLabels {
		podLabels[k] = v
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{Name: rp.Spec.Service, Image: "registry.example/" + rp.Spec.Service + ":1"}}}
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: rp.Spec.Service + "-7c9d", Namespace: key.Namespace},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](10), Selector: &metav1.LabelSelector{MatchLabels: podLabels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels}, Spec: spec}}}
	if err := c.Create(ctx, rs); err != nil {
		return err
	}
	pods := make([]*corev1.Pod, 10)
	for i := range pods {
		pods[i] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: rs.Name + "-", Namespace: key.Namespace, Labels: podLabels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
			Spec: *spec.DeepCopy()}
	}
	if err := testenv.CreatePodsAtOnce(ctx, c, pods); err != nil {
		return err
	}
	fmt.Printf("  %-18s %-14s %s\n", "POD", "DECISION", "BOUND TO")
	for _, p := range pods {
		node, err := testenv.BindAsScheduler(ctx, c, p, "spot-1", "on-demand-1")
		if err != nil {
			return err
		}
		fmt.Printf("  %-18s %-14s %s\n", p.Name, p.Annotations[placement.DecisionAnnotation], node)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := c.Get(ctx, key, rp); err != nil {
			return err
		}
		if p := rp.Status.Placement; p != nil && p.Total == 10 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("status.placement of %s does not count the 10 pods: %+v", key, rp.Status.Placement)
		}
		time.Sleep(200 * time.Millisecond)
	}
	step("kubectl get rprof " + key.Name + " -n " + key.Namespace + " -o wide")
	if err := printProfileTable(ctx, cfg, key.Namespace, key.Name, true); err != nil {
		return err
	}
	if c := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.SpotWithinLimitCondition); c != nil {
		fmt.Printf("  SpotWithinLimit=%s: %s\n", c.Status, c.Message)
	}
	return nil
}
