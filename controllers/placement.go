package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

// The spot placement webhook (internal/webhook) reads the owners of the pods it places, and the controller
// counts pods on spot nodes: pod metadata and node labels, read-only.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=replicasets;statefulsets,verbs=get

// PodNodeIndex indexes cached pods by the node they are bound to.
const PodNodeIndex = "placement.nodeName"

// PodNodeName is the index function of PodNodeIndex.
func PodNodeName(obj client.Object) []string {
	if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
		return []string{p.Spec.NodeName}
	}
	return nil
}

// SpotPlacement is set when the operator runs with --spot-placement: the reconciler then observes where the
// profile's pods run and reports what the webhook did in Audit mode.
type SpotPlacement struct {
	Audits *webhook.AuditLog
}

var (
	spotPodsMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reliability_operator_placement_pods",
		Help: "Running pods of a profile's service by node capacity (spot or on-demand), observed from Pods and Nodes (P-3).",
	}, []string{"namespace", "profile", "service", "capacity"})
	spotFractionMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reliability_operator_spot_fraction",
		Help: "Share of a profile's running pods on spot nodes (P-3).",
	}, []string{"namespace", "profile", "service"})
	spotLimitMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "reliability_operator_spot_fraction_limit",
		Help: "Largest share of a workload's pods the profile lets run on spot nodes (P-3).",
	}, []string{"namespace", "profile", "service"})
)

func init() {
	metrics.Registry.MustRegister(spotPodsMetric, spotFractionMetric, spotLimitMetric)
}

// exportedService remembers the service label each profile's series carry, to drop them when it changes.
var exportedService sync.Map // types.NamespacedName → string

// forgetPlacementMetrics drops the series of a deleted profile.
func forgetPlacementMetrics(key types.NamespacedName) {
	exportedService.Delete(key)
	l := prometheus.Labels{"namespace": key.Namespace, "profile": key.Name}
	spotPodsMetric.DeletePartialMatch(l)
	spotFractionMetric.DeletePartialMatch(l)
	spotLimitMetric.DeletePartialMatch(l)
}

// observePlacement counts the profile's running pods on spot and on other nodes, from the cache, and exports
// the figures as metrics.
func (r *ReliabilityProfileReconciler) observePlacement(ctx context.Context, rp *v1alpha1.ReliabilityProfile, policy placement.Policy) (placement.Observation, error) {
	pods := &corev1.PodList{}
	// Read-only: the cache's own pods, not copies of every pod of the namespace at each reconcile.
	if err := r.Client.List(ctx, pods, client.InNamespace(rp.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return placement.Observation{}, fmt.Errorf("listing pods: %w", err)
	}
	var selected []placement.Pod
	nodeLabels := map[string]map[string]string{}
	for i := range pods.Items {
		p := &pods.Items[i]
		if !p.DeletionTimestamp.IsZero() || !webhook.Selects(rp, p.Labels) {
			continue
		}
		selected = append(selected, placement.PodOf(p, policy))
		if name := p.Spec.NodeName; name != "" {
			if _, done := nodeLabels[name]; done {
				continue
			}
			labels, found, err := webhook.NodeLabels(ctx, r.Client, name)
			if err != nil {
				return placement.Observation{}, fmt.Errorf("reading node %s: %w", name, err)
			}
			if found { // a node already gone: its pods are not counted
				nodeLabels[name] = labels
			}
		}
	}
	obs := placement.Observe(selected, nodeLabels, policy)
	svc := rp.Spec.Service
	// A renamed service would otherwise leave the old name's series behind. Deleting only then keeps the
	// series in place for scrapes between reconciles.
	if old, ok := exportedService.Load(client.ObjectKeyFromObject(rp)); ok && old != svc {
		forgetPlacementMetrics(client.ObjectKeyFromObject(rp))
	}
	exportedService.Store(client.ObjectKeyFromObject(rp), svc)
	spotPodsMetric.WithLabelValues(rp.Namespace, rp.Name, svc, "spot").Set(float64(obs.Spot))
	spotPodsMetric.WithLabelValues(rp.Namespace, rp.Name, svc, "on-demand").Set(float64(obs.Total - obs.Spot))
	spotFractionMetric.WithLabelValues(rp.Namespace, rp.Name, svc).Set(obs.Share())
	spotLimitMetric.WithLabelValues(rp.Namespace, rp.Name, svc).Set(policy.Limit.Float64())
	return obs, nil
}

// setPlacementStatus writes status.placement and the SpotWithinLimit condition (P-3) from an observation and
// the webhook's Audit-mode records, oldest first.
func setPlacementStatus(rp *v1alpha1.ReliabilityProfile, policy placement.Policy, obs placement.Observation, audits []webhook.AuditRecord, now metav1.Time) {
	st := &rp.Status
	prev := st.Placement
	ps := &v1alpha1.PlacementStatus{
		Limit: policy.Limit.String(), SpotNodeLabels: policy.LabelStrings(),
		Spot: obs.Spot, Total: obs.Total, Fraction: obs.Fraction(),
		OwnAffinity: obs.OwnAffinity, Unplaced: obs.Unplaced,
	}
	if prev != nil {
		ps.LastAudit, ps.LastAuditTime = prev.LastAudit, prev.LastAuditTime
	}
	if n := len(audits); n > 0 {
		last := audits[n-1]
		ps.LastAudit = fmt.Sprintf("pod %s would have been %s: %s", last.Pod, last.Decision.Outcome, last.Decision.Reason)
		at := metav1.NewTime(last.Time.UTC().Truncate(1e9))
		ps.LastAuditTime = &at
	}
	if !policy.Audit {
		ps.LastAudit, ps.LastAuditTime = "", nil
	}
	st.Placement = ps

	c := metav1.Condition{Type: v1alpha1.SpotWithinLimitCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.WithinSpotLimitReason}
	switch {
	case obs.Total == 0:
		c.Message = fmt.Sprintf("No pod of the service runs on a node; the limit is %s (P-3).", ps.Limit)
	case policy.Limit.Exceeded(obs.Spot, obs.Total):
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason
		c.Message = fmt.Sprintf("%d of %d running pods (%s) are on spot nodes, above the limit %s (P-3).%s",
			obs.Spot, obs.Total, ps.Fraction, ps.Limit, exceededCauses(obs, policy.Audit))
	default:
		c.Message = fmt.Sprintf("%d of %d running pods (%s) are on spot nodes, within the limit %s (P-3).", obs.Spot, obs.Total, ps.Fraction, ps.Limit)
	}
	setCondition(st, c, rp.Generation, now)
}

// setInvalidPlacementStatus reports a placement the webhook cannot apply.
func setInvalidPlacementStatus(rp *v1alpha1.ReliabilityProfile, err error, now metav1.Time) {
	rp.Status.Placement = nil
	setCondition(&rp.Status, metav1.Condition{Type: v1alpha1.SpotWithinLimitCondition, Status: metav1.ConditionUnknown,
		Reason: v1alpha1.InvalidPlacementReason, Message: err.Error() + "; the webhook admits the service's pods unchanged (P-3 is not enforced)."},
		rp.Generation, now)
}

// exceededCauses names what can put more pods on spot than the webhook allows.
func exceededCauses(obs placement.Observation, audit bool) string {
	var causes []string
	if audit {
		causes = append(causes, "the profile is in Audit mode, so pods are not placed")
	}
	if obs.OwnAffinity > 0 {
		causes = append(causes, fmt.Sprintf("%d pods choose spot by their own affinity", obs.OwnAffinity))
	}
	if obs.Unplaced > 0 && !audit {
		causes = append(causes, fmt.Sprintf("%d pods carry no decision of the webhook (created before the profile, while the webhook was unreachable, opted out, or created already bound to a node)", obs.Unplaced))
	}
	if obs.Unbound > 0 {
		causes = append(causes, fmt.Sprintf("%d pods are not on a node yet and are not counted (pods waiting for on-demand capacity leave the share of the running ones higher)", obs.Unbound))
	}
	if len(causes) == 0 {
		causes = append(causes, "spot-eligible pods left by a scale-down exceed the smaller cap until they are replaced")
	}
	return " Causes: " + strings.Join(causes, "; ") + "."
}

// recordAuditEvents emits an Event per pod the webhook would have placed in Audit mode. The recorder merges
// Events of the same reason and action into one series with a count, so the action names the outcome: one
// series for pods that would have been spot-eligible, one for those that would have been kept off spot.
func (r *ReliabilityProfileReconciler) recordAuditEvents(rp *v1alpha1.ReliabilityProfile, audits []webhook.AuditRecord) {
	for _, a := range audits {
		action := "Admit"
		switch a.Decision.Outcome {
		case placement.SpotEligible:
			action = "AdmitSpotEligible"
		case placement.OnDemand:
			action = "AdmitOnDemand"
		}
		r.Recorder.Eventf(rp, nil, corev1.EventTypeNormal, v1alpha1.SpotPlacementAuditedReason, action,
			"Audit mode: pod %s would have been %s: %s", a.Pod, a.Decision.Outcome, a.Decision.Reason)
	}
}

// profilesOfPod maps a pod to the profiles of its namespace that select it.
func (r *ReliabilityProfileReconciler) profilesOfPod(ctx context.Context, obj client.Object) []reconcile.Request {
	profiles := &v1alpha1.ReliabilityProfileList{}
	if err := r.Client.List(ctx, profiles, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range profiles.Items {
		if webhook.Selects(&profiles.Items[i], obj.GetLabels()) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&profiles.Items[i])})
		}
	}
	return out
}

// profilesOfNode maps a node whose labels changed to the profiles selecting the pods bound to it.
func (r *ReliabilityProfileReconciler) profilesOfNode(ctx context.Context, obj client.Object) []reconcile.Request {
	pods := &corev1.PodList{}
	if err := r.Client.List(ctx, pods, client.MatchingFields{PodNodeIndex: obj.GetName()}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range pods.Items {
		for _, req := range r.profilesOfPod(ctx, &pods.Items[i]) {
			if !slices.Contains(out, req) {
				out = append(out, req)
			}
		}
	}
	return out
}

// podPlacementChanged lets through the pod events that can change a profile's placement figures: a pod
// created unbound changes nothing until it is bound.
var podPlacementChanged = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool {
		p, ok := e.Object.(*corev1.Pod)
		return !ok || p.Spec.NodeName != ""
	},
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*corev1.Pod)
		n, okNew := e.ObjectNew.(*corev1.Pod)
		if !okOld || !okNew {
			return true
		}
		return o.Spec.NodeName != n.Spec.NodeName || !o.DeletionTimestamp.Equal(n.DeletionTimestamp) ||
			!maps.Equal(o.Labels, n.Labels) ||
			o.Annotations[placement.DecisionAnnotation] != n.Annotations[placement.DecisionAnnotation]
	},
}
