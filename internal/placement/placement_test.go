package placement

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

func TestParseLimitIsExactAndRefusesWhatTheAPIRefuses(t *testing.T) {
	for in, want := range map[string]Limit{"0": 0, "0.5": 5000, "0.25": 2500, "0.3333": 3333, "0.1": 1000, "0.05": 500} {
		got, err := ParseLimit(in)
		if err != nil || got != want {
			t.Errorf("ParseLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
		if back, _ := ParseLimit(got.String()); back != want {
			t.Errorf("%q printed as %q does not read back", in, got.String())
		}
	}
	for _, in := range []string{"0.6", "1", "0.50001", "", "0.x", "-0.1", "0.-1"} {
		if _, err := ParseLimit(in); err == nil {
			t.Errorf("ParseLimit(%q) accepted", in)
		}
	}
}

func TestCapIsTheFloorOfLimitTimesReplicas(t *testing.T) {
	cases := []struct {
		limit    string
		replicas int32
		want     int32
	}{
		{"0.5", 1, 0}, {"0.5", 2, 1}, {"0.5", 3, 1}, {"0.5", 10, 5}, {"0.5", 0, 0},
		{"0", 10, 0}, {"0.3", 10, 3}, {"0.1", 30, 3}, {"0.3333", 3, 0}, {"0.3333", 10000, 3333},
	}
	for _, c := range cases {
		l, _ := ParseLimit(c.limit)
		if got := l.Cap(c.replicas); got != c.want {
			t.Errorf("cap(%s × %d) = %d, want %d", c.limit, c.replicas, got, c.want)
		}
	}
}

func TestPolicyDefaultsFollowTheTier(t *testing.T) {
	cases := []struct {
		name      string
		spec      v1alpha1.ReliabilityProfileSpec
		wantLimit string
		wantKeys  int
		wantAudit bool
	}{
		{"a non-critical service may put half on spot", v1alpha1.ReliabilityProfileSpec{Tier: v1alpha1.TierNonCritical}, "0.5", 4, false},
		{"a critical service puts nothing on spot by default", v1alpha1.ReliabilityProfileSpec{Tier: v1alpha1.TierCritical}, "0", 4, false},
		{"a critical service may raise its limit", v1alpha1.ReliabilityProfileSpec{Tier: v1alpha1.TierCritical,
			Placement: &v1alpha1.PlacementSpec{MaxSpotFraction: "0.2"}}, "0.2", 4, false},
		{"a custom label replaces the providers' labels", v1alpha1.ReliabilityProfileSpec{Tier: v1alpha1.TierNonCritical, Mode: v1alpha1.ModeAudit,
			Placement: &v1alpha1.PlacementSpec{SpotNodeLabel: &v1alpha1.NodeLabel{Key: "capacity", Value: "preemptible"}}}, "0.5", 1, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := PolicyOf(&v1alpha1.ReliabilityProfile{Spec: c.spec})
			if err != nil {
				t.Fatal(err)
			}
			if p.Limit.String() != c.wantLimit || len(p.SpotLabels) != c.wantKeys || p.Audit != c.wantAudit {
				t.Errorf("got limit %s, %d labels, audit %v", p.Limit, len(p.SpotLabels), p.Audit)
			}
		})
	}
}

func TestAPolicyWithALabelKeyPodsCannotCarryIsRefused(t *testing.T) {
	for _, key := range []string{"example..com/spot", "example.com/" + strings.Repeat("s", 64)} {
		_, err := PolicyOf(&v1alpha1.ReliabilityProfile{Spec: v1alpha1.ReliabilityProfileSpec{Tier: v1alpha1.TierNonCritical,
			Placement: &v1alpha1.PlacementSpec{SpotNodeLabel: &v1alpha1.NodeLabel{Key: key, Value: "true"}}}})
		if err == nil || !strings.Contains(err.Error(), "spec.placement.spotNodeLabel") {
			t.Errorf("key %q: %v", key, err)
		}
	}
}

func pod(mod func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	if mod != nil {
		mod(p)
	}
	return p
}

var (
	half, _      = ParseLimit("0.5")
	defaultSpots = Policy{Limit: half, SpotLabels: DefaultSpotNodeLabels}
	spotNodes    = map[string]map[string]string{
		"karpenter-spot": {"karpenter.sh/capacity-type": "spot"},
		"karpenter-od":   {"karpenter.sh/capacity-type": "on-demand"},
		"eks-spot":       {"eks.amazonaws.com/capacityType": "SPOT"},
		"eks-od":         {"eks.amazonaws.com/capacityType": "ON_DEMAND"},
		"gke-spot":       {"cloud.google.com/gke-spot": "true"},
		"aks-spot":       {"kubernetes.azure.com/scalesetpriority": "spot"},
		"unlabelled":     {"kubernetes.io/hostname": "plain"},
	}
)

func TestDecide(t *testing.T) {
	rs := func(replicas, eligible int32) Workload {
		return Workload{Kind: "ReplicaSet", Name: "web-7d9", Replicas: replicas, SpotEligible: eligible}
	}
	zero, _ := ParseLimit("0")
	cases := []struct {
		name     string
		pod      *corev1.Pod
		policy   Policy
		workload Workload
		want     Outcome
		wantCap  int32
	}{
		{"the first pod of a ReplicaSet of two may run on spot", pod(nil), defaultSpots, rs(2, 0), SpotEligible, 1},
		{"the second pod of a ReplicaSet of two is kept on on-demand", pod(nil), defaultSpots, rs(2, 1), OnDemand, 1},
		{"a ReplicaSet of one puts nothing on spot (floor of 0.5)", pod(nil), defaultSpots, rs(1, 0), OnDemand, 0},
		{"a ReplicaSet of ten allows a fifth spot pod", pod(nil), defaultSpots, rs(10, 4), SpotEligible, 5},
		{"a ReplicaSet of ten refuses a sixth", pod(nil), defaultSpots, rs(10, 5), OnDemand, 5},
		{"more eligible pods than the cap after a scale-down: on-demand", pod(nil), defaultSpots, rs(2, 5), OnDemand, 1},
		{"a critical service's limit 0 keeps every pod off spot", pod(nil), Policy{Limit: zero, SpotLabels: DefaultSpotNodeLabels}, rs(10, 0), OnDemand, 0},
		{"a pod without an owner is a workload of one", pod(nil), defaultSpots, Workload{Replicas: 1}, OnDemand, 0},
		{"a DaemonSet's pod is not placed", pod(nil), defaultSpots, Workload{Kind: "DaemonSet", Name: "agent", Replicas: 1}, NotApplicable, 0},
		{"a node selector on a spot label is the pod's own choice", pod(func(p *corev1.Pod) {
			p.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"}
		}), defaultSpots, rs(10, 0), OwnAffinity, 0},
		{"a preferred affinity on a spot label is the pod's own choice", pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.PreferredSchedulingTerm{
				{Weight: 1, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "cloud.google.com/gke-spot", Operator: corev1.NodeSelectorOpDoesNotExist}}}}}}}
		}), defaultSpots, rs(10, 0), OwnAffinity, 0},
		{"an affinity on another label is not", pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
		}), defaultSpots, rs(10, 0), SpotEligible, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.pod.DeepCopy()
			d := Decide(c.pod, c.policy, c.workload)
			if d.Outcome != c.want || d.Cap != c.wantCap {
				t.Errorf("got %s cap %d (%s), want %s cap %d", d.Outcome, d.Cap, d.Reason, c.want, c.wantCap)
			}
			if d.Reason == "" {
				t.Error("no reason given")
			}
			if !equality.Semantic.DeepEqual(before, c.pod) {
				t.Error("Decide changed the pod")
			}
		})
	}
}

// schedulable says whether the scheduler's own node affinity code lets the pod onto a node with these labels.
func schedulable(t *testing.T, p *corev1.Pod, labels map[string]string) bool {
	t.Helper()
	node := &corev1.Node{}
	node.Labels = labels
	match, err := corev1helpers.GetRequiredNodeAffinity(p).Match(node)
	if err != nil {
		t.Fatal(err)
	}
	return match
}

func TestAnOnDemandPodFitsNoSpotNodeOfAnyProvider(t *testing.T) {
	for _, base := range []*corev1.Pod{
		pod(nil),
		// A pod with two ORed terms of its own: both must exclude spot.
		pod(func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpExists}}},
				{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpDoesNotExist}}},
			}}}}
		}),
	} {
		p := base.DeepCopy()
		Mutate(p, Decision{Outcome: OnDemand}, defaultSpots, "uid-1")
		for name, labels := range spotNodes {
			spot := defaultSpots.IsSpotNode(labels)
			if fits := schedulable(t, p, labels); fits == spot {
				t.Errorf("on-demand pod on %s: fits=%v, spot=%v", name, fits, spot)
			}
		}
		if p.Annotations[DecisionAnnotation] != string(OnDemand) || p.Annotations[DeletionCostAnnotation] != "" {
			t.Errorf("annotations %v", p.Annotations)
		}
		if len(p.Spec.Tolerations) != 0 {
			t.Errorf("an on-demand pod got tolerations %v", p.Spec.Tolerations)
		}
	}
}

func TestASpotEligiblePodPrefersAndToleratesSpotAndMayRunAnywhere(t *testing.T) {
	p := pod(func(p *corev1.Pod) {
		p.Annotations = map[string]string{"team": "web"}
		// Already tolerates AKS's spot taint: not added twice.
		p.Spec.Tolerations = []corev1.Toleration{{Key: "kubernetes.azure.com/scalesetpriority", Operator: corev1.TolerationOpExists}}
	})
	Mutate(p, Decision{Outcome: SpotEligible}, defaultSpots, "uid-1")
	for name, labels := range spotNodes {
		if !schedulable(t, p, labels) {
			t.Errorf("a spot-eligible pod cannot go to %s", name)
		}
	}
	if got := len(p.Spec.Affinity.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution); got != 4 {
		t.Errorf("%d preferred terms, want one per spot label", got)
	}
	if got := len(p.Spec.Tolerations); got != 4 {
		t.Errorf("tolerations %v, want the pod's own and one for each other spot label", p.Spec.Tolerations)
	}
	for _, taint := range []corev1.Taint{
		{Key: "cloud.google.com/gke-spot", Value: "true", Effect: corev1.TaintEffectNoSchedule},
		{Key: "kubernetes.azure.com/scalesetpriority", Value: "spot", Effect: corev1.TaintEffectNoSchedule},
	} {
		if !Tolerates(p.Spec.Tolerations, taint) {
			t.Errorf("does not tolerate %v", taint)
		}
	}
	want := map[string]string{"team": "web", DecisionAnnotation: "spot-eligible", RequestAnnotation: "uid-1", DeletionCostAnnotation: "-1"}
	if !equality.Semantic.DeepEqual(p.Annotations, want) {
		t.Errorf("annotations %v, want %v", p.Annotations, want)
	}

	own := pod(func(p *corev1.Pod) { p.Annotations = map[string]string{DeletionCostAnnotation: "500"} })
	Mutate(own, Decision{Outcome: SpotEligible}, defaultSpots, "uid-2")
	if own.Annotations[DeletionCostAnnotation] != "500" {
		t.Error("the pod's own deletion cost was overwritten")
	}
}

func TestOtherOutcomesLeaveThePodAlone(t *testing.T) {
	for _, o := range []Outcome{OwnAffinity, NotApplicable} {
		p := pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"} })
		before := p.DeepCopy()
		Mutate(p, Decision{Outcome: o}, defaultSpots, "uid")
		if !equality.Semantic.DeepEqual(before, p) {
			t.Errorf("%s changed the pod", o)
		}
	}
}

func TestObserveCountsBoundPodsByNodeCapacity(t *testing.T) {
	onDemand := pod(nil)
	Mutate(onDemand, Decision{Outcome: OnDemand}, defaultSpots, "")
	own := pod(func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"eks.amazonaws.com/capacityType": "SPOT"} })
	bound := func(p *corev1.Pod, node string) Pod {
		p = p.DeepCopy()
		p.Spec.NodeName = node
		return PodOf(p, defaultSpots)
	}
	pods := []Pod{
		bound(onDemand, "karpenter-od"), bound(onDemand, "unlabelled"),
		bound(pod(nil), "gke-spot"), // created while the webhook was down
		bound(own, "eks-spot"),
		bound(pod(nil), ""),             // not scheduled yet
		bound(pod(nil), "deleted-node"), // its node is gone
		bound(pod(func(p *corev1.Pod) { // a DaemonSet's, on a spot node
			p.OwnerReferences = []metav1.OwnerReference{{Kind: "DaemonSet", Name: "agent", Controller: ptr.To(true)}}
		}), "karpenter-spot"),
	}
	got := Observe(pods, spotNodes, defaultSpots)
	want := Observation{Spot: 2, Total: 4, OwnAffinity: 1, Unplaced: 1, Unbound: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got.Fraction() != "0.50" || (Observation{}).Fraction() != "0.00" {
		t.Errorf("fractions %s %s", got.Fraction(), Observation{}.Fraction())
	}
	if half.Exceeded(2, 4) || !half.Exceeded(3, 5) || half.Exceeded(0, 0) {
		t.Error("Exceeded is wrong")
	}
}

func TestAnEmptyRequiredTermStaysEmptyAndMatchesNothing(t *testing.T) {
	p := pod(func(p *corev1.Pod) {
		p.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{
			{},
			{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "topology.kubernetes.io/zone", Operator: corev1.NodeSelectorOpIn, Values: []string{"a"}}}},
		}}}}
	})
	Mutate(p, Decision{Outcome: OnDemand}, defaultSpots, "")
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms[0].MatchExpressions) != 0 || len(terms[1].MatchExpressions) != 1+len(DefaultSpotNodeLabels) {
		t.Errorf("terms %+v", terms)
	}
	if schedulable(t, p, map[string]string{"topology.kubernetes.io/zone": "b"}) {
		t.Error("the pod's zone constraint was widened")
	}
}

func TestAPodCreatedBoundToANodeIsNotPlaced(t *testing.T) {
	p := pod(func(p *corev1.Pod) { p.Spec.NodeName = "spot-1" })
	if d := Decide(p, defaultSpots, Workload{Kind: "ReplicaSet", Name: "web", Replicas: 10}); d.Outcome != NotApplicable {
		t.Errorf("got %s", d.Outcome)
	}
}
