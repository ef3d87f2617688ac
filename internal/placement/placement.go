// Package placement decides where a pod of a service may run with respect to spot capacity (manifesto P-3),
// and counts where the service's pods do run.
//
// Everything here is pure: the admission webhook (internal/webhook) gathers the inputs from the API and
// calls Decide and Mutate; the controller gathers pods and nodes and calls Observe. No client, no clock.
//
// The rule: a workload (the ReplicaSet or StatefulSet that owns the pod) of R replicas may have at most
// floor(limit × R) pods that are allowed on spot nodes. Each new pod is decided when it is admitted: while
// fewer than that many live pods of the workload are spot-eligible, it is spot-eligible (a preferred affinity
// for the spot label and the spot taint's toleration); otherwise it gets a required node affinity `NotIn`
// the spot label, which every provider honours because it also matches nodes without the label. Pods on spot
// nodes are therefore a subset of the spot-eligible ones, and those are at most the cap.
package placement

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Annotations the webhook sets on the pods it decides for.
const (
	// DecisionAnnotation records the webhook's decision: spot-eligible or on-demand.
	DecisionAnnotation = "reliability.dev/spot-placement"
	// RequestAnnotation is the UID of the admission request that decided a spot-eligible pod. It lets the
	// webhook tell its own recent decisions, not yet in its cache, from pods it already sees.
	RequestAnnotation = "reliability.dev/spot-placement-request"
	// DeletionCostAnnotation is the ReplicaSet controller's pod-deletion-cost: spot-eligible pods get a lower
	// cost, so a scale-down removes them first and the remaining pods stay within the cap.
	DeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"
	// OptOutLabel, on a namespace or a pod, keeps the webhook away from it (the webhook configuration's
	// selectors match on it). The operator's own namespace carries it.
	OptOutLabel = "reliability.dev/webhook"
	// OptOutValue is the value of OptOutLabel that opts out.
	OptOutValue = "ignore"
)

// Outcome is the decision for one pod.
type Outcome string

const (
	// SpotEligible: the pod prefers spot nodes and tolerates their taint.
	SpotEligible Outcome = "spot-eligible"
	// OnDemand: the pod is kept off spot nodes by a required node affinity.
	OnDemand Outcome = "on-demand"
	// OwnAffinity: the pod already states its own affinity or node selector for a spot label; it is left
	// alone.
	OwnAffinity Outcome = "own-affinity"
	// NotApplicable: a DaemonSet's pod, which must run on every node it selects, spot or not.
	NotApplicable Outcome = "not-applicable"
)

// DefaultSpotNodeLabels are the labels that mark spot nodes on the common providers: Karpenter, EKS managed
// node groups, GKE and AKS.
var DefaultSpotNodeLabels = []v1alpha1.NodeLabel{
	{Key: "karpenter.sh/capacity-type", Value: "spot"},
	{Key: "eks.amazonaws.com/capacityType", Value: "SPOT"},
	{Key: "cloud.google.com/gke-spot", Value: "true"},
	{Key: "kubernetes.azure.com/scalesetpriority", Value: "spot"},
}

// Limit is a share of pods in ten-thousandths, exact for every value the API accepts ("0" to "0.5" with at
// most four decimals), so that floor(limit × replicas) has no rounding error.
type Limit int64

const limitScale = 10000

// ParseLimit reads a maxSpotFraction such as "0.25".
func ParseLimit(s string) (Limit, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole != "0" || len(frac) > 4 {
		return 0, fmt.Errorf("maxSpotFraction %q: want 0 to 0.5 with at most four decimals", s)
	}
	frac += strings.Repeat("0", 4-len(frac))
	n, err := strconv.ParseInt(frac, 10, 64)
	if err != nil || n < 0 || n > limitScale/2 {
		return 0, fmt.Errorf("maxSpotFraction %q: want 0 to 0.5 with at most four decimals", s)
	}
	return Limit(n), nil
}

// Cap is floor(limit × replicas): how many pods of a workload of that size may be spot-eligible.
func (l Limit) Cap(replicas int32) int32 {
	if replicas <= 0 {
		return 0
	}
	return int32(int64(replicas) * int64(l) / limitScale)
}

// Float64 is the limit as a share, such as 0.5.
func (l Limit) Float64() float64 { return float64(l) / limitScale }

// String is the limit as the API writes it, such as "0.5" or "0".
func (l Limit) String() string { return strconv.FormatFloat(l.Float64(), 'f', -1, 64) }

// Exceeded says whether spot out of total is above the limit.
func (l Limit) Exceeded(spot, total int32) bool {
	return int64(spot)*limitScale > int64(l)*int64(total)
}

// Policy is a profile's placement rule.
type Policy struct {
	Limit      Limit
	SpotLabels []v1alpha1.NodeLabel
	// Audit: the webhook decides but does not change the pod (the profile's mode is Audit).
	Audit bool
}

// PolicyOf is the profile's placement rule, with the tier's default limit (0.5 for non-critical, 0 for
// critical) and the providers' spot labels when the profile sets none.
func PolicyOf(rp *v1alpha1.ReliabilityProfile) (Policy, error) {
	p := Policy{SpotLabels: DefaultSpotNodeLabels, Audit: rp.Spec.Mode == v1alpha1.ModeAudit}
	fraction := "0.5"
	if rp.Spec.Tier == v1alpha1.TierCritical {
		fraction = "0"
	}
	if pl := rp.Spec.Placement; pl != nil {
		if pl.MaxSpotFraction != "" {
			fraction = pl.MaxSpotFraction
		}
		if l := pl.SpotNodeLabel; l != nil {
			// The CRD refuses these; a profile stored under an older CRD must not make pods invalid.
			if errs := append(validation.IsQualifiedName(l.Key), validation.IsValidLabelValue(l.Value)...); len(errs) > 0 {
				return Policy{}, fmt.Errorf("spec.placement.spotNodeLabel %s=%s: %s", l.Key, l.Value, strings.Join(errs, "; "))
			}
			p.SpotLabels = []v1alpha1.NodeLabel{*l}
		}
	}
	limit, err := ParseLimit(fraction)
	if err != nil {
		return Policy{}, fmt.Errorf("spec.placement.%w", err)
	}
	p.Limit = limit
	return p, nil
}

// LabelStrings are the policy's spot labels as key=value.
func (p Policy) LabelStrings() []string {
	out := make([]string, 0, len(p.SpotLabels))
	for _, l := range p.SpotLabels {
		out = append(out, l.Key+"="+l.Value)
	}
	return out
}

// IsSpotNode says whether a node with these labels is spot capacity.
func (p Policy) IsSpotNode(nodeLabels map[string]string) bool {
	for _, l := range p.SpotLabels {
		if v, ok := nodeLabels[l.Key]; ok && v == l.Value {
			return true
		}
	}
	return false
}

// Workload is what the webhook knows about the owner of a pod being admitted.
type Workload struct {
	// Kind and Name of the owner; Kind is empty for a pod without a controller.
	Kind, Name string
	// Replicas the owner asks for; a pod without a ReplicaSet or StatefulSet is a workload of one.
	Replicas int32
	// SpotEligible counts the owner's live pods (not terminating) that are spot-eligible, including those
	// admitted moments ago and not yet seen in the cache.
	SpotEligible int32
}

// Decision is what happens to one pod.
type Decision struct {
	Outcome Outcome
	// Cap is floor(limit × replicas) for the pod's workload.
	Cap int32
	// Reason explains the outcome in a sentence, for events and logs.
	Reason string
}

// Decide places one pod being admitted. It does not change the pod.
func Decide(pod *corev1.Pod, p Policy, w Workload) Decision {
	if w.Kind == "DaemonSet" {
		return Decision{Outcome: NotApplicable, Reason: "a DaemonSet's pods run on every node they select, spot or not"}
	}
	if pod.Spec.NodeName != "" {
		// The scheduler is bypassed; a node affinity the node does not meet would make the kubelet fail the pod.
		return Decision{Outcome: NotApplicable, Reason: fmt.Sprintf("the pod is created bound to node %s", pod.Spec.NodeName)}
	}
	if key, ok := OwnSpotAffinity(pod, p); ok {
		return Decision{Outcome: OwnAffinity, Reason: fmt.Sprintf("the pod sets its own node affinity or selector on %s; left alone", key)}
	}
	c := p.Limit.Cap(w.Replicas)
	owner := "the pod (no ReplicaSet or StatefulSet: a workload of one)"
	if w.Kind != "" {
		owner = fmt.Sprintf("%s %s (%d replicas)", w.Kind, w.Name, w.Replicas)
	}
	if w.SpotEligible < c {
		return Decision{Outcome: SpotEligible, Cap: c, Reason: fmt.Sprintf(
			"%d of at most %d pods of %s may run on spot (limit %s); this one may", w.SpotEligible, c, owner, p.Limit)}
	}
	return Decision{Outcome: OnDemand, Cap: c, Reason: fmt.Sprintf(
		"%d of at most %d pods of %s may run on spot (limit %s); this one is kept on on-demand nodes", w.SpotEligible, c, owner, p.Limit)}
}

// OwnSpotAffinity finds a spot label key the pod already places itself by, in its node selector or node
// affinity (required or preferred).
func OwnSpotAffinity(pod *corev1.Pod, p Policy) (string, bool) {
	isSpotKey := func(k string) bool {
		for _, l := range p.SpotLabels {
			if l.Key == k {
				return true
			}
		}
		return false
	}
	for k := range pod.Spec.NodeSelector {
		if isSpotKey(k) {
			return k, true
		}
	}
	if pod.Spec.Affinity == nil || pod.Spec.Affinity.NodeAffinity == nil {
		return "", false
	}
	na := pod.Spec.Affinity.NodeAffinity
	var terms []corev1.NodeSelectorTerm
	if na.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		terms = append(terms, na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms...)
	}
	for _, pt := range na.PreferredDuringSchedulingIgnoredDuringExecution {
		terms = append(terms, pt.Preference)
	}
	for _, t := range terms {
		for _, e := range t.MatchExpressions {
			if isSpotKey(e.Key) {
				return e.Key, true
			}
		}
	}
	return "", false
}

// spotPreferenceWeight is the weight of the preferred spot affinity of a spot-eligible pod: enough to lean
// towards spot, not enough to outweigh the pod's own strongest preferences (up to 100).
const spotPreferenceWeight = 50

// Mutate writes a SpotEligible or OnDemand decision into the pod; other outcomes leave it as it is. The
// request UID is recorded on spot-eligible pods (RequestAnnotation).
func Mutate(pod *corev1.Pod, d Decision, p Policy, requestUID string) {
	if d.Outcome != SpotEligible && d.Outcome != OnDemand {
		return
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[DecisionAnnotation] = string(d.Outcome)
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	na := pod.Spec.Affinity.NodeAffinity
	if d.Outcome == OnDemand {
		// Node selector terms are ORed: every term must exclude spot, or one term would let the pod onto it.
		notSpot := make([]corev1.NodeSelectorRequirement, 0, len(p.SpotLabels))
		for _, l := range p.SpotLabels {
			notSpot = append(notSpot, corev1.NodeSelectorRequirement{Key: l.Key, Operator: corev1.NodeSelectorOpNotIn, Values: []string{l.Value}})
		}
		if na.RequiredDuringSchedulingIgnoredDuringExecution == nil || len(na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms) == 0 {
			na.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: notSpot}}}
			return
		}
		terms := na.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
		for i := range terms {
			// An empty term matches no node; adding to it would widen it to every non-spot node.
			if len(terms[i].MatchExpressions) == 0 && len(terms[i].MatchFields) == 0 {
				continue
			}
			terms[i].MatchExpressions = append(terms[i].MatchExpressions, slices.Clone(notSpot)...)
		}
		return
	}
	pod.Annotations[RequestAnnotation] = requestUID
	if _, set := pod.Annotations[DeletionCostAnnotation]; !set {
		pod.Annotations[DeletionCostAnnotation] = "-1"
	}
	for _, l := range p.SpotLabels {
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			corev1.PreferredSchedulingTerm{Weight: spotPreferenceWeight, Preference: corev1.NodeSelectorTerm{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: l.Key, Operator: corev1.NodeSelectorOpIn, Values: []string{l.Value}}}}})
		taint := corev1.Taint{Key: l.Key, Value: l.Value, Effect: corev1.TaintEffectNoSchedule}
		if !Tolerates(pod.Spec.Tolerations, taint) {
			pod.Spec.Tolerations = append(pod.Spec.Tolerations,
				corev1.Toleration{Key: l.Key, Operator: corev1.TolerationOpEqual, Value: l.Value, Effect: corev1.TaintEffectNoSchedule})
		}
	}
}

// Tolerates says whether one of the tolerations already lets the pod onto nodes with the taint.
func Tolerates(have []corev1.Toleration, taint corev1.Taint) bool {
	for _, h := range have {
		if h.ToleratesTaint(klog.Background(), &taint, false) {
			return true
		}
	}
	return false
}

// Pod is what Observe needs of a running pod.
type Pod struct {
	// DaemonSet: the pod belongs to a DaemonSet, which runs wherever its nodes are; it is not counted.
	DaemonSet bool
	NodeName  string
	// Decision is the pod's DecisionAnnotation, empty when the webhook made none.
	Decision string
	// OwnAffinity: the pod places itself by a spot label.
	OwnAffinity bool
}

// PodOf is what Observe needs of a pod. A pod the webhook decided for carries the webhook's own affinity on
// the spot label, which is not the pod's own.
func PodOf(pod *corev1.Pod, p Policy) Pod {
	o := Pod{NodeName: pod.Spec.NodeName, Decision: pod.Annotations[DecisionAnnotation]}
	for _, ref := range pod.OwnerReferences {
		if ref.Controller != nil && *ref.Controller && ref.Kind == "DaemonSet" {
			o.DaemonSet = true
		}
	}
	if o.Decision == "" {
		_, o.OwnAffinity = OwnSpotAffinity(pod, p)
	}
	return o
}

// Observation is where a service's pods run.
type Observation struct {
	Spot, Total, OwnAffinity, Unplaced int32
	// Unbound counts the pods not yet on a node, such as on-demand pods waiting for capacity: until they
	// run, the bound ones can show a higher share on spot than the workload will have.
	Unbound int32
}

// Observe counts the pods bound to a node: on spot nodes, in total, with their own spot affinity, and without
// a decision of the webhook; and the pods not bound yet. Pods on a node not (yet) known, and DaemonSet pods,
// are not counted.
func Observe(pods []Pod, nodeLabels map[string]map[string]string, p Policy) Observation {
	var o Observation
	for _, pod := range pods {
		if pod.DaemonSet {
			continue
		}
		if pod.NodeName == "" {
			o.Unbound++
			continue
		}
		labels, known := nodeLabels[pod.NodeName]
		if !known {
			continue
		}
		o.Total++
		if p.IsSpotNode(labels) {
			o.Spot++
		}
		switch {
		case pod.OwnAffinity:
			o.OwnAffinity++
		case pod.Decision != string(SpotEligible) && pod.Decision != string(OnDemand):
			o.Unplaced++
		}
	}
	return o
}

// Share is spot/total, 0 for no pods.
func (o Observation) Share() float64 {
	if o.Total == 0 {
		return 0
	}
	return float64(o.Spot) / float64(o.Total)
}

// Fraction is the share with two decimals, such as "0.30".
func (o Observation) Fraction() string { return strconv.FormatFloat(o.Share(), 'f', 2, 64) }
