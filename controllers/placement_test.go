package controllers_test

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// Nodes of the placement tests: envtest has no kubelet, so they are API objects that pods are bound to.
var (
	spotNode     = "spot-1"
	gkeSpotNode  = "gke-spot-1"
	onDemandNode = "on-demand-1"
	nodesOnce    sync.Once
)

func createNodes(t *testing.T) {
	t.Helper()
	nodesOnce.Do(func() {
		for name, labels := range map[string]map[string]string{
			spotNode:     {"karpenter.sh/capacity-type": "spot"},
			gkeSpotNode:  {"cloud.google.com/gke-spot": "true"}, // GKE labels only its spot nodes
			onDemandNode: {"karpenter.sh/capacity-type": "on-demand"},
		} {
			n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
			if err := k8s.Create(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func placementProfile(ns string, tier v1alpha1.Tier, mode v1alpha1.Mode) *v1alpha1.ReliabilityProfile {
	var dr *v1alpha1.DisasterRecoverySpec
	if tier == v1alpha1.TierCritical {
		dr = &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks.example/web"}
	}
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: "web", Tier: tier, Mode: mode, DisasterRecovery: dr,
			Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		},
	}
}

// startPlacementProfile creates the test nodes, a namespace and the profile "web" in it, and waits for its
// first placement status.
func startPlacementProfile(t *testing.T, tier v1alpha1.Tier, mode v1alpha1.Mode) string {
	t.Helper()
	createNodes(t)
	ns := newNamespace(t)
	createProfile(t, placementProfile(ns, tier, mode))
	eventually(t, "placement status", placementIs(ns, "web", 0, 0, "0.00"))
	return ns
}

// replicaSetPods are n pods of the ReplicaSet, not created yet.
func replicaSetPods(ns string, rs *appsv1.ReplicaSet, n int32) []*corev1.Pod {
	pods := make([]*corev1.Pod, n)
	for i := range pods {
		pods[i] = newPod(ns, map[string]string{"app": "web", "rs": rs.Name}, rs, "ReplicaSet")
	}
	return pods
}

// newPod is a pod as a controller would create it, owned by owner when it is not nil.
func newPod(ns string, labels map[string]string, owner client.Object, kind string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-", Namespace: ns, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1"}}},
	}
	if owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner.GetName(),
			UID: owner.GetUID(), Controller: ptr.To(true)}}
	}
	return p
}

func webLabels() map[string]string { return map[string]string{"app": "web"} }

func newReplicaSet(t *testing.T, ns, name string, replicas int32) *appsv1.ReplicaSet {
	t.Helper()
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "rs": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "rs": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/web:1"}}},
			}},
	}
	if err := k8s.Create(ctx, rs); err != nil {
		t.Fatal(err)
	}
	return rs
}

// createConcurrently creates the pods at the same time, as the ReplicaSet controller does in its batches.
func createConcurrently(t *testing.T, pods []*corev1.Pod) {
	t.Helper()
	if err := testenv.CreatePodsAtOnce(ctx, k8s, pods); err != nil {
		t.Fatal(err)
	}
}

// bind binds the pod as the scheduler would, to the first of the candidate nodes it fits.
func bind(t *testing.T, p *corev1.Pod, candidates ...string) string {
	t.Helper()
	node, err := testenv.BindAsScheduler(ctx, k8s, p, candidates...)
	if err != nil {
		t.Fatal(err)
	}
	return node
}

func placementIs(ns, name string, spot, total int32, fraction string) func() error {
	return func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
			return err
		}
		p := rp.Status.Placement
		if p == nil || p.Spot != spot || p.Total != total || p.Fraction != fraction {
			return fmt.Errorf("placement %+v, want spot %d total %d fraction %s", p, spot, total, fraction)
		}
		return nil
	}
}

func TestSpotPlacementCapsEachWorkloadAtTheFloorOfLimitTimesReplicas(t *testing.T) {
	ns := startPlacementProfile(t, v1alpha1.TierNonCritical, v1alpha1.ModeEnforce)

	var wantSpot, total int32
	for _, replicas := range []int32{1, 2, 3, 10} {
		rs := newReplicaSet(t, ns, fmt.Sprintf("web-%d", replicas), replicas)
		pods := replicaSetPods(ns, rs, replicas)
		createConcurrently(t, pods)
		var eligible int32
		for _, p := range pods {
			switch p.Annotations[placement.DecisionAnnotation] {
			case string(placement.SpotEligible):
				eligible++
				if bind(t, p, spotNode, onDemandNode) != spotNode {
					t.Errorf("spot-eligible pod %s cannot go to the spot node", p.Name)
				}
			case string(placement.OnDemand):
				// The scheduler's own affinity code refuses both providers' spot nodes.
				if got := bind(t, p, spotNode, gkeSpotNode, onDemandNode); got != onDemandNode {
					t.Errorf("on-demand pod %s was bound to %s", p.Name, got)
				}
			default:
				t.Fatalf("pod %s was not placed: annotations %v", p.Name, p.Annotations)
			}
		}
		if want := replicas / 2; eligible != want {
			t.Errorf("ReplicaSet of %d: %d spot-eligible pods, want floor(0.5 × %d) = %d", replicas, eligible, replicas, want)
		}
		wantSpot += replicas / 2
		total += replicas
	}
	// 7 of 16 bound pods on spot.
	eventually(t, "placement status from bound pods", placementIs(ns, "web", wantSpot, total, "0.44"))
	eventually(t, "P-3 condition", conditionIs(ns, "web", v1alpha1.SpotWithinLimitCondition, metav1.ConditionTrue, v1alpha1.WithinSpotLimitReason))
	if got := metricValue(t, "reliability_operator_spot_fraction", ns); got != 7.0/16 {
		t.Errorf("reliability_operator_spot_fraction = %v, want 7/16", got)
	}

	// A StatefulSet of 3 gets one, like a ReplicaSet.
	sts := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: appsv1.StatefulSetSpec{
		Replicas: ptr.To[int32](3), Selector: &metav1.LabelSelector{MatchLabels: webLabels()},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: webLabels()},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:1"}}}}}}
	if err := k8s.Create(ctx, sts); err != nil {
		t.Fatal(err)
	}
	var stsEligible int
	for i := range 3 {
		p := newPod(ns, webLabels(), sts, "StatefulSet")
		p.GenerateName, p.Name = "", fmt.Sprintf("db-%d", i)
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.Annotations[placement.DecisionAnnotation] == string(placement.SpotEligible) {
			stsEligible++
		}
	}
	if stsEligible != 1 {
		t.Errorf("StatefulSet of 3: %d spot-eligible pods, want 1", stsEligible)
	}
}

func TestACriticalServiceKeepsEveryPodOffSpotByDefault(t *testing.T) {
	ns := startPlacementProfile(t, v1alpha1.TierCritical, v1alpha1.ModeEnforce)
	pods := replicaSetPods(ns, newReplicaSet(t, ns, "web-critical", 10), 10)
	createConcurrently(t, pods)
	for _, p := range pods {
		if p.Annotations[placement.DecisionAnnotation] != string(placement.OnDemand) {
			t.Fatalf("pod %s of a critical service: %v", p.Name, p.Annotations)
		}
	}
	rp := getProfile(t, ns, "web")
	if rp.Status.Placement.Limit != "0" {
		t.Errorf("limit %q, want 0", rp.Status.Placement.Limit)
	}
}

func TestPodsThatAreNotSelectedOrChooseTheirOwnSpotAffinityAreLeftAlone(t *testing.T) {
	ns := startPlacementProfile(t, v1alpha1.TierNonCritical, v1alpha1.ModeEnforce)
	rs := newReplicaSet(t, ns, "web-own", 10)

	other := newPod(ns, map[string]string{"app": "batch"}, nil, "")
	own := newPod(ns, map[string]string{"app": "web", "rs": rs.Name}, rs, "ReplicaSet")
	own.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"}
	for _, p := range []*corev1.Pod{other, own} {
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if len(p.Annotations) != 0 || toleratesSpot(p) || p.Spec.Affinity != nil {
			t.Errorf("pod %s was changed: annotations %v, affinity %v, tolerations %v", p.Name, p.Annotations, p.Spec.Affinity, p.Spec.Tolerations)
		}
	}
	bind(t, own, spotNode)
	eventually(t, "own affinity reported", func() error {
		rp := getProfile(t, ns, "web")
		if p := rp.Status.Placement; p == nil || p.OwnAffinity != 1 || p.Spot != 1 || p.Total != 1 {
			return fmt.Errorf("placement %+v", p)
		}
		return nil
	})
	// One pod of one on spot is above 0.5: the condition names the pod's own affinity as the cause.
	eventually(t, "limit exceeded", conditionIs(ns, "web", v1alpha1.SpotWithinLimitCondition, metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason))
	c := conditionOf(t, ns, "web", v1alpha1.SpotWithinLimitCondition)
	if !strings.Contains(c.Message, "own affinity") || !strings.Contains(c.Message, "P-3") {
		t.Errorf("condition message %q", c.Message)
	}
}

func TestAnAuditProfileLeavesPodsUnchangedAndReportsWhatItWouldHaveDone(t *testing.T) {
	ns := startPlacementProfile(t, v1alpha1.TierNonCritical, v1alpha1.ModeAudit)
	rs := newReplicaSet(t, ns, "web-audit", 2)
	var pods []*corev1.Pod
	for range 2 {
		p := newPod(ns, map[string]string{"app": "web", "rs": rs.Name}, rs, "ReplicaSet")
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if len(p.Annotations) != 0 || p.Spec.Affinity != nil || toleratesSpot(p) {
			t.Fatalf("Audit mode changed pod %s: %v %v %v", p.Name, p.Annotations, p.Spec.Affinity, p.Spec.Tolerations)
		}
		pods = append(pods, p)
	}
	for _, p := range pods {
		bind(t, p, spotNode)
	}
	eventually(t, "both pods on spot", placementIs(ns, "web", 2, 2, "1.00"))
	eventually(t, "limit exceeded", conditionIs(ns, "web", v1alpha1.SpotWithinLimitCondition, metav1.ConditionFalse, v1alpha1.SpotLimitExceededReason))
	rp := getProfile(t, ns, "web")
	if !strings.Contains(rp.Status.Placement.LastAudit, "would have been") || rp.Status.Placement.LastAuditTime == nil {
		t.Errorf("lastAudit %q at %v", rp.Status.Placement.LastAudit, rp.Status.Placement.LastAuditTime)
	}
	if rp.Status.Placement.Unplaced != 2 {
		t.Errorf("unplaced %d, want 2", rp.Status.Placement.Unplaced)
	}
	// The first pod would have been spot-eligible, the second kept on on-demand: each is an Event.
	eventually(t, "event for the spot-eligible pod", hasEvent(ns, v1alpha1.SpotPlacementAuditedReason, "would have been spot-eligible"))
	eventually(t, "event for the on-demand pod", hasEvent(ns, v1alpha1.SpotPlacementAuditedReason, "would have been on-demand"))
	if got := metricValue(t, "reliability_operator_spot_fraction", ns); got != 1 {
		t.Errorf("reliability_operator_spot_fraction = %v, want 1", got)
	}

	// A renamed service's series are exported under the new name only.
	rp = getProfile(t, ns, "web")
	rp.Spec.Service = "web-renamed"
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "series under the new service name only", func() error {
		if got := seriesServices(t, "reliability_operator_spot_fraction", ns); len(got) != 1 || got[0] != "web-renamed" {
			return fmt.Errorf("services %v", got)
		}
		return nil
	})

	// A deleted profile's series go with it.
	if err := k8s.Delete(ctx, getProfile(t, ns, "web")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "series of the deleted profile removed", func() error {
		if _, ok := gauge(t, "reliability_operator_spot_fraction", ns); ok {
			return fmt.Errorf("reliability_operator_spot_fraction{namespace=%q,profile=\"web\"} is still exported", ns)
		}
		return nil
	})
}

func TestPodsAreCreatedUnchangedWhenTheWebhookIsDown(t *testing.T) {
	createNodes(t)
	// Nothing listens on one address; the other accepts connections and never answers.
	closed := testenv.FreeAddress(t)
	hanging, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hanging.Close() }()
	go func() {
		for {
			conn, err := hanging.Accept()
			if err != nil {
				return
			}
			defer func() { _ = conn.Close() }()
		}
	}()
	for _, c := range []struct{ name, address string }{{"unreachable", closed}, {"hanging", hanging.Addr().String()}} {
		t.Run(c.name, func(t *testing.T) {
			ns := newNamespace(t)
			// The real webhook skips this namespace; only the broken copy of the shipped configuration is called.
			nsObj := &corev1.Namespace{}
			editObject(t, client.ObjectKey{Name: ns}, nsObj, func() {
				if nsObj.Labels == nil {
					nsObj.Labels = map[string]string{}
				}
				nsObj.Labels[placement.OptOutLabel] = placement.OptOutValue
			})
			createProfile(t, placementProfile(ns, v1alpha1.TierNonCritical, v1alpha1.ModeEnforce))
			broken := shippedWebhook(t)
			broken.Name = "broken-" + ns
			hook := &broken.Webhooks[0]
			hook.ClientConfig = admissionv1.WebhookClientConfig{URL: ptr.To("https://" + c.address + "/mutate-v1-pod-spot-placement")}
			hook.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
			if err := k8s.Create(ctx, broken); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = k8s.Delete(ctx, broken) }()

			p := newPod(ns, webLabels(), nil, "")
			start := time.Now()
			if err := k8s.Create(ctx, p); err != nil {
				t.Fatalf("the pod was refused while the webhook is %s: %v", c.name, err)
			}
			t.Logf("pod created in %v with the webhook %s (timeoutSeconds %d)", time.Since(start).Round(time.Millisecond), c.name, *hook.TimeoutSeconds)
			if len(p.Annotations) != 0 || p.Spec.Affinity != nil {
				t.Errorf("pod changed: %v %v", p.Annotations, p.Spec.Affinity)
			}
			bind(t, p, spotNode)
			eventually(t, "unplaced pod reported", func() error {
				rp := getProfile(t, ns, "web")
				if pl := rp.Status.Placement; pl == nil || pl.Unplaced != 1 || pl.Spot != 1 {
					return fmt.Errorf("placement %+v", pl)
				}
				return nil
			})
		})
	}
}

func TestTheShippedWebhookCannotStandBetweenATeamAndItsPods(t *testing.T) {
	h := shippedWebhook(t).Webhooks[0]
	if *h.FailurePolicy != admissionv1.Ignore || *h.SideEffects != admissionv1.SideEffectClassNone || *h.TimeoutSeconds > 5 {
		t.Errorf("failurePolicy %s, sideEffects %s, timeoutSeconds %d", *h.FailurePolicy, *h.SideEffects, *h.TimeoutSeconds)
	}
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease"} {
		sel, _ := metav1.LabelSelectorAsSelector(h.NamespaceSelector)
		if sel.Matches(labels.Set(map[string]string{"kubernetes.io/metadata.name": ns})) {
			t.Errorf("the webhook is called for %s", ns)
		}
	}
	nsSel, _ := metav1.LabelSelectorAsSelector(h.NamespaceSelector)
	podSel, _ := metav1.LabelSelectorAsSelector(h.ObjectSelector)
	optOut := labels.Set(map[string]string{placement.OptOutLabel: placement.OptOutValue, "kubernetes.io/metadata.name": "team"})
	if nsSel.Matches(optOut) || podSel.Matches(optOut) {
		t.Error("a namespace or pod labelled reliability.dev/webhook=ignore is still sent to the webhook")
	}
	// The operator's own namespace and pods carry the opt-out label.
	b, err := os.ReadFile(testenv.RepoRoot() + "/config/manager/manager.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var obj struct {
			Kind     string
			Metadata metav1.ObjectMeta
			Spec     struct{ Template corev1.PodTemplateSpec }
		}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		l := obj.Metadata.Labels
		if obj.Kind == "Deployment" {
			l = obj.Spec.Template.Labels
		}
		if l[placement.OptOutLabel] != placement.OptOutValue {
			t.Errorf("the operator's %s does not opt out of its own webhook", obj.Kind)
		}
	}
}

func shippedWebhook(t *testing.T) *admissionv1.MutatingWebhookConfiguration {
	t.Helper()
	b, err := os.ReadFile(testenv.WebhookManifests())
	if err != nil {
		t.Fatal(err)
	}
	m := &admissionv1.MutatingWebhookConfiguration{}
	if err := yaml.UnmarshalStrict(b, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// toleratesSpot says whether the pod got a toleration of a spot taint (the API server adds others).
func toleratesSpot(p *corev1.Pod) bool {
	for _, l := range placement.DefaultSpotNodeLabels {
		if placement.Tolerates(p.Spec.Tolerations, corev1.Taint{Key: l.Key, Value: l.Value, Effect: corev1.TaintEffectNoSchedule}) {
			return true
		}
	}
	return false
}

func conditionOf(t *testing.T, ns, name, condType string) metav1.Condition {
	t.Helper()
	for _, c := range getProfile(t, ns, name).Status.Conditions {
		if c.Type == condType {
			return c
		}
	}
	t.Fatalf("no %s condition", condType)
	return metav1.Condition{}
}

// metricValue reads a gauge of the running operator for the profile "web" of the namespace.
func metricValue(t *testing.T, name, ns string) float64 {
	t.Helper()
	v, ok := gauge(t, name, ns)
	if !ok {
		t.Fatalf("no %s for %s/web", name, ns)
	}
	return v
}

// profileSeries are the gauge's series for the profile "web" of the namespace: each one's labels and value.
func profileSeries(t *testing.T, name, ns string) []struct {
	labels map[string]string
	value  float64
} {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []struct {
		labels map[string]string
		value  float64
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["profile"] == "web" {
				out = append(out, struct {
					labels map[string]string
					value  float64
				}{labels, m.GetGauge().GetValue()})
			}
		}
	}
	return out
}

// seriesServices lists the service labels of the gauge's series for the profile "web" of the namespace.
func seriesServices(t *testing.T, name, ns string) []string {
	t.Helper()
	var out []string
	for _, s := range profileSeries(t, name, ns) {
		out = append(out, s.labels["service"])
	}
	return out
}

func gauge(t *testing.T, name, ns string) (float64, bool) {
	t.Helper()
	series := profileSeries(t, name, ns)
	if len(series) == 0 {
		return 0, false
	}
	return series[0].value, true
}
