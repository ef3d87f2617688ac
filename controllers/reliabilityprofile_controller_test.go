package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

var ctx = context.Background()

func newProfile(ns string) *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{
			Name: "checkout", Namespace: ns,
			Labels: map[string]string{"argocd.argoproj.io/instance": "shop"},
		},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service:  "checkout",
			Tier:     v1alpha1.TierNonCritical,
			Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Network: &v1alpha1.NetworkSpec{Ingress: []v1alpha1.IngressRule{{
				From:  []v1alpha1.IngressPeer{{PodSelector: &v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "frontend"}}}},
				Ports: []v1alpha1.IngressPort{{Port: 8080}},
			}}},
		},
	}
}

func createProfile(t *testing.T, rp *v1alpha1.ReliabilityProfile) {
	t.Helper()
	if err := k8s.Create(ctx, rp); err != nil {
		t.Fatalf("creating profile: %v", err)
	}
}

func getProfile(t *testing.T, ns, name string) *v1alpha1.ReliabilityProfile {
	t.Helper()
	rp := &v1alpha1.ReliabilityProfile{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
		t.Fatal(err)
	}
	return rp
}

// conditionIs returns nil when the profile's current status has the condition with that status and reason.
func conditionIs(ns, name, condType string, status metav1.ConditionStatus, reason string) func() error {
	return func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rp); err != nil {
			return err
		}
		if rp.Status.ObservedGeneration != rp.Generation {
			return fmt.Errorf("observedGeneration %d, generation %d", rp.Status.ObservedGeneration, rp.Generation)
		}
		c := meta.FindStatusCondition(rp.Status.Conditions, condType)
		if c == nil {
			return fmt.Errorf("no %s condition in %+v", condType, rp.Status.Conditions)
		}
		if c.Status != status || c.Reason != reason || c.ObservedGeneration != rp.Generation {
			return fmt.Errorf("%s is %s/%s (gen %d): %s", condType, c.Status, c.Reason, c.ObservedGeneration, c.Message)
		}
		return nil
	}
}

func childState(t *testing.T, ns, name, kind string) *v1alpha1.ChildStatus {
	t.Helper()
	for _, c := range getProfile(t, ns, name).Status.Resources {
		if c.Kind == kind {
			return &c
		}
	}
	return nil
}

// startReadyProfile creates the test profile in a new namespace and waits until it is Ready.
func startReadyProfile(t *testing.T) string {
	t.Helper()
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	waitReady(t, ns)
	return ns
}

// editChild changes the profile's child of obj's kind the way a person with kubectl would: read, change,
// update under another field manager, and read again on a conflict (as kubectl edit does).
func editChild(t *testing.T, ns string, obj client.Object, mutate func()) {
	t.Helper()
	editObject(t, client.ObjectKey{Namespace: ns, Name: "checkout"}, obj, mutate)
}

// editObject is editChild for any object.
func editObject(t *testing.T, key client.ObjectKey, obj client.Object, mutate func()) {
	t.Helper()
	attempts := 0
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		attempts++
		if err := k8s.Get(ctx, key, obj); err != nil {
			return err
		}
		mutate()
		return k8s.Update(ctx, obj, client.FieldOwner("someone-with-kubectl"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if attempts > 1 {
		t.Logf("editing %T took %d attempts: the object changed in between", obj, attempts)
	}
}

func waitReady(t *testing.T, ns string) {
	t.Helper()
	eventually(t, "profile Ready", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.ReconciledReason))
}

func hasEvent(ns, reason, contains string) func() error {
	return func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		var seen []string
		for _, e := range list.Items {
			if e.Reason == reason && strings.Contains(e.Note, contains) && e.Regarding.Kind == "ReliabilityProfile" {
				return nil
			}
			seen = append(seen, e.Reason+": "+e.Note)
		}
		return fmt.Errorf("no %s event mentioning %q among %q", reason, contains, seen)
	}
}

func TestAProfileCreatesItsChildrenAndBecomesReady(t *testing.T) {
	ns := newNamespace(t)
	rp := newProfile(ns)
	createProfile(t, rp)
	waitReady(t, ns)

	if err := conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionFalse, v1alpha1.NoDriftReason)(); err != nil {
		t.Errorf("a new profile reports drift: %v", err)
	}
	rp = getProfile(t, ns, "checkout")
	if len(rp.Status.Resources) != 5 {
		t.Fatalf("status.resources = %+v, want five children", rp.Status.Resources)
	}
	for _, c := range rp.Status.Resources {
		if c.State != v1alpha1.ChildInSync {
			t.Errorf("%s/%s is %s: %s", c.Kind, c.Name, c.State, c.Message)
		}
	}
	for _, c := range []client.Object{&monitoringv1.ServiceMonitor{}, &monitoringv1.PrometheusRule{}, &policyv1.PodDisruptionBudget{},
		&networkingv1.NetworkPolicy{}, &grafanav1beta1.GrafanaDashboard{}} {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, c); err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		owner := metav1.GetControllerOf(c)
		if owner == nil || owner.UID != rp.UID {
			t.Errorf("%T is not controlled by the profile: %+v", c, c.GetOwnerReferences())
		}
		labels := c.GetLabels()
		if labels["app.kubernetes.io/managed-by"] != "reliability-operator" || labels["reliability.dev/profile"] != "checkout" {
			t.Errorf("%T labels = %v", c, labels)
		}
		if _, copied := labels["argocd.argoproj.io/instance"]; copied {
			t.Errorf("%T carries the profile's Argo CD tracking label: Argo would prune it", c)
		}
	}
	sm := &monitoringv1.ServiceMonitor{}
	_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, sm)
	if sm.Labels["release"] != "test" {
		t.Errorf("ServiceMonitor lacks the --monitoring-labels label: %v", sm.Labels)
	}
	if ep := sm.Spec.Endpoints[0]; ep.TargetPort.IntValue() != 8067 || ep.Path != "/metrics" {
		t.Errorf("ServiceMonitor scrapes %v %s, want 8067 /metrics (O-6, O-7)", ep.TargetPort, ep.Path)
	}
	pdb := &policyv1.PodDisruptionBudget{}
	_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, pdb)
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PDB maxUnavailable = %v, want the default 1", pdb.Spec.MaxUnavailable)
	}
	dash := &grafanav1beta1.GrafanaDashboard{}
	_ = k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, dash)
	if dash.Spec.InstanceSelector == nil || dash.Spec.InstanceSelector.MatchLabels["dashboards"] != "grafana" ||
		dash.Spec.FolderTitle != ns || !strings.Contains(dash.Spec.JSON, `"service:up:ratio{namespace=\"`+ns+`\",service=\"checkout\"}"`) {
		t.Errorf("GrafanaDashboard: selector %v, folder %q, JSON has the service's availability query: %v",
			dash.Spec.InstanceSelector, dash.Spec.FolderTitle, strings.Contains(dash.Spec.JSON, "service:up:ratio"))
	}
}

func TestDriftIsCorrectedAndRecordedInEnforceMode(t *testing.T) {
	ns := startReadyProfile(t)

	pdb := &policyv1.PodDisruptionBudget{}
	editChild(t, ns, pdb, func() {
		pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(5))
	})

	eventually(t, "PDB restored", func() error {
		live := &policyv1.PodDisruptionBudget{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if v := live.Spec.MaxUnavailable.IntValue(); v != 1 {
			return fmt.Errorf("maxUnavailable is still %d", v)
		}
		return nil
	})
	eventually(t, "Drifted condition", conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftCorrectedReason))
	eventually(t, "Ready after correction", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.ReconciledReason))
	c := childState(t, ns, "checkout", "PodDisruptionBudget")
	if c == nil || c.State != v1alpha1.ChildInSync || c.LastDriftTime == nil ||
		!strings.Contains(c.Message, "spec.maxUnavailable") || !strings.Contains(c.Message, "someone-with-kubectl") {
		t.Errorf("resources[] entry does not record the drift: %+v", c)
	}
	eventually(t, "drift event", hasEvent(ns, v1alpha1.DriftCorrectedReason, "someone-with-kubectl"))

	// Drifts of two other children, made together: each is an Event of its own that names its child, not a
	// repeat of one series.
	np := &networkingv1.NetworkPolicy{}
	editChild(t, ns, np, func() { np.Spec.Ingress = nil })
	editChild(t, ns, pdb, func() { pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(7)) })
	eventually(t, "drift event of the NetworkPolicy", hasEvent(ns, v1alpha1.DriftCorrectedReason, "NetworkPolicy checkout"))
	eventually(t, "drift events name their children", func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		related := map[string]bool{}
		for _, e := range list.Items {
			if e.Reason == v1alpha1.DriftCorrectedReason && e.Related != nil && strings.HasPrefix(e.Note, e.Related.Kind+" "+e.Related.Name) {
				related[e.Related.Kind] = true
			}
		}
		if !related["NetworkPolicy"] || !related["PodDisruptionBudget"] {
			return fmt.Errorf("DriftCorrected events related to %v", related)
		}
		return nil
	})
}

func TestDriftIsOnlyReportedInAuditMode(t *testing.T) {
	ns := startReadyProfile(t)

	rp := getProfile(t, ns, "checkout")
	rp.Spec.Mode = v1alpha1.ModeAudit
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns) // the new generation is observed, everything still in sync

	np := &networkingv1.NetworkPolicy{}
	editChild(t, ns, np, func() {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{}) // allow everything
	})

	eventually(t, "Drifted condition", conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftDetectedReason))
	eventually(t, "Ready=True AuditOnly", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.AuditOnlyReason))
	c := childState(t, ns, "checkout", "NetworkPolicy")
	if c == nil || c.State != v1alpha1.ChildDrifted || c.LastDriftTime == nil || !strings.Contains(c.Message, "spec.ingress") {
		t.Errorf("resources[] entry = %+v, want Drifted at spec.ingress", c)
	}
	eventually(t, "drift event", hasEvent(ns, v1alpha1.DriftDetectedReason, "spec.ingress"))
	consistently(t, "Audit mode must leave the drifted NetworkPolicy alone", 3*time.Second, func() error {
		live := &networkingv1.NetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if len(live.Spec.Ingress) != 3 {
			return fmt.Errorf("ingress rules = %d, want the drifted 3", len(live.Spec.Ingress))
		}
		return nil
	})
}

func TestAnAuditProfileCreatesNothing(t *testing.T) {
	ns := newNamespace(t)
	rp := newProfile(ns)
	rp.Spec.Mode = v1alpha1.ModeAudit
	createProfile(t, rp)
	eventually(t, "Ready=True AuditOnly", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.AuditOnlyReason))
	for _, c := range getProfile(t, ns, "checkout").Status.Resources {
		if c.State != v1alpha1.ChildMissing {
			t.Errorf("%s is %s, want Missing", c.Kind, c.State)
		}
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &policyv1.PodDisruptionBudget{}); !apierrors.IsNotFound(err) {
		t.Errorf("Audit mode created a PodDisruptionBudget (err=%v)", err)
	}
}

func TestADeletedChildIsRecreated(t *testing.T) {
	ns := startReadyProfile(t)

	sm := &monitoringv1.ServiceMonitor{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, sm); err != nil {
		t.Fatal(err)
	}
	oldUID := sm.UID
	if err := k8s.Delete(ctx, sm); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	eventually(t, "ServiceMonitor recreated", func() error {
		live := &monitoringv1.ServiceMonitor{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if live.UID == oldUID {
			return fmt.Errorf("still the old object")
		}
		return nil
	})
	t.Logf("ServiceMonitor recreated %v after its deletion", time.Since(start).Round(time.Millisecond))
}

func TestAForeignObjectWithAChildsNameIsLeftAloneAndReported(t *testing.T) {
	ns := newNamespace(t)
	foreign := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns, Labels: map[string]string{"team": "payments"}},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(2)),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
		},
	}
	if err := k8s.Create(ctx, foreign, client.FieldOwner("hand-written")); err != nil {
		t.Fatal(err)
	}
	createProfile(t, newProfile(ns))

	eventually(t, "Degraded ForeignObject", conditionIs(ns, "checkout", v1alpha1.DegradedCondition, metav1.ConditionTrue, v1alpha1.ForeignObjectReason))
	eventually(t, "Ready=False ForeignObject", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionFalse, v1alpha1.ForeignObjectReason))
	c := childState(t, ns, "checkout", "PodDisruptionBudget")
	if c == nil || c.State != v1alpha1.ChildConflict || !strings.Contains(c.Message, "hand-written") {
		t.Errorf("resources[] entry = %+v, want Conflict naming the object's manager", c)
	}
	if s := childState(t, ns, "checkout", "ServiceMonitor"); s == nil || s.State != v1alpha1.ChildInSync {
		t.Errorf("the other children should still be applied: %+v", s)
	}
	eventually(t, "conflict event", hasEvent(ns, v1alpha1.ForeignObjectReason, "PodDisruptionBudget"))
	consistently(t, "the foreign PDB must stay untouched", 2*time.Second, func() error {
		live := &policyv1.PodDisruptionBudget{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), live); err != nil {
			return err
		}
		if live.ResourceVersion != foreign.ResourceVersion || len(live.OwnerReferences) != 0 {
			return fmt.Errorf("the foreign PDB was changed: rv %s→%s, owners %v", foreign.ResourceVersion, live.ResourceVersion, live.OwnerReferences)
		}
		return nil
	})
}

func TestAChildTheProfileNoLongerRendersIsDeleted(t *testing.T) {
	ns := startReadyProfile(t)

	rp := getProfile(t, ns, "checkout")
	rp.Spec.Network = nil
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "NetworkPolicy deleted", func() error {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &networkingv1.NetworkPolicy{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err=%v)", err)
	})
	waitReady(t, ns)
	if n := len(getProfile(t, ns, "checkout").Status.Resources); n != 4 {
		t.Errorf("status.resources has %d entries, want 4", n)
	}
}

func TestAReconcileThatChangesNothingSendsNoWrites(t *testing.T) {
	ns := startReadyProfile(t)
	// Let the reconciles triggered by the operator's own writes settle.
	settle(t, ns)

	// An annotation change is not a spec change but does trigger a reconcile.
	writesBefore, reconcilesBefore := operatorWrites.count(ns), testenv.ReconcileCount(t)
	rp := getProfile(t, ns, "checkout")
	rp.Annotations = map[string]string{"touched": "1"}
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a reconcile ran", func() error {
		if testenv.ReconcileCount(t) <= reconcilesBefore {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
	settle(t, ns)
	if got := operatorWrites.count(ns) - writesBefore; got != 0 {
		t.Fatalf("a reconcile of an unchanged profile sent %d write requests, want 0", got)
	}

	// The counter does count: a spec change costs writes (PDB apply and status).
	rp = getProfile(t, ns, "checkout")
	rp.Spec.Disruption = &v1alpha1.DisruptionSpec{MaxUnavailable: ptr.To(intstr.FromInt32(2))}
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ns)
	eventually(t, "writes counted", func() error {
		if operatorWrites.count(ns) == writesBefore {
			return fmt.Errorf("no write counted for a spec change")
		}
		return nil
	})
}

// settle waits until the operator has not written to the namespace for a second.
func settle(t *testing.T, ns string) {
	t.Helper()
	last, quietSince := operatorWrites.count(ns), time.Now()
	for time.Since(quietSince) < time.Second {
		time.Sleep(100 * time.Millisecond)
		if n := operatorWrites.count(ns); n != last {
			last, quietSince = n, time.Now()
		}
	}
}

// The cache only holds objects with the operator's managed-by label. A child whose label someone removed
// falls out of the cache; the operator must still find it, see it is its own, and restore the label.
func TestAChildWhoseManagedByLabelWasRemovedIsRestored(t *testing.T) {
	ns := startReadyProfile(t)

	np := &networkingv1.NetworkPolicy{}
	editChild(t, ns, np, func() {
		delete(np.Labels, "app.kubernetes.io/managed-by")
	})
	eventually(t, "managed-by label restored", func() error {
		live := &networkingv1.NetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if live.Labels["app.kubernetes.io/managed-by"] != "reliability-operator" {
			return fmt.Errorf("labels = %v", live.Labels)
		}
		if live.UID != np.UID {
			return fmt.Errorf("the NetworkPolicy was recreated instead of restored")
		}
		return nil
	})
	eventually(t, "drift recorded", conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftCorrectedReason))
}

// A change inside a list item that widens access (a namespaceSelector added to a pod-only peer lets those pods
// in from every namespace) is drift, even though every field the operator set is still there.
func TestAWidenedNetworkPolicyPeerIsDriftAndIsRestored(t *testing.T) {
	ns := startReadyProfile(t)

	np := &networkingv1.NetworkPolicy{}
	editChild(t, ns, np, func() {
		np.Spec.Ingress[1].From[0].NamespaceSelector = &metav1.LabelSelector{}
	})
	eventually(t, "peer restored", func() error {
		live := &networkingv1.NetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if live.Spec.Ingress[1].From[0].NamespaceSelector != nil {
			return fmt.Errorf("the peer still admits every namespace")
		}
		return nil
	})
	// The status is written just after the restoring apply.
	eventually(t, "drift recorded at the widened peer", func() error {
		c := childState(t, ns, "checkout", "NetworkPolicy")
		if c == nil || c.LastDriftTime == nil || !strings.Contains(c.Message, "spec.ingress[1].from[0].namespaceSelector") {
			return fmt.Errorf("resources[] entry = %+v", c)
		}
		return nil
	})
}

// In Audit mode the operator writes nothing, so after a profile change the children differ from the profile.
// That is reported (Ready=False, child Drifted) but it is not drift: nobody else changed anything.
func TestAProfileChangeInAuditModeIsNotReportedAsDrift(t *testing.T) {
	ns := startReadyProfile(t)

	rp := getProfile(t, ns, "checkout")
	rp.Spec.Mode = v1alpha1.ModeAudit
	rp.Spec.Disruption = &v1alpha1.DisruptionSpec{MaxUnavailable: ptr.To(intstr.FromInt32(2))}
	if err := k8s.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Ready=True AuditOnly", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.AuditOnlyReason))
	if err := conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionFalse, v1alpha1.NoDriftReason)(); err != nil {
		t.Errorf("a profile change was reported as drift: %v", err)
	}
	c := childState(t, ns, "checkout", "PodDisruptionBudget")
	if c == nil || c.State != v1alpha1.ChildDrifted || c.LastDriftTime != nil || !strings.Contains(c.Message, "differs from the profile") {
		t.Errorf("resources[] entry = %+v, want Drifted from the profile without a drift record", c)
	}
	if err := hasEvent(ns, v1alpha1.DriftDetectedReason, "")(); err == nil {
		t.Errorf("a DriftDetected event was recorded for a profile change")
	}
	pdb := &policyv1.PodDisruptionBudget{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, pdb); err != nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("Audit mode changed the PDB: %v %v", pdb.Spec.MaxUnavailable, err)
	}
}

func withSLO(rp *v1alpha1.ReliabilityProfile, errorsQuery string) *v1alpha1.ReliabilityProfile {
	rp.Spec.SLOs = []v1alpha1.SLO{{
		Name: "availability", Objective: "99.9", ExternalObjective: "99.5",
		Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{
			Errors: errorsQuery, Total: `http_requests_total{job="checkout"}`,
		}},
	}}
	return rp
}

func TestThePrometheusRuleIsCreatedDriftCorrectedAndKeptOnAnInvalidQuery(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, withSLO(newProfile(ns), `http_requests_total{job="checkout",code=~"5.."}`))
	waitReady(t, ns)

	rule := &monitoringv1.PrometheusRule{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, rule); err != nil {
		t.Fatal(err)
	}
	if len(rule.Spec.Groups) != 3 || rule.Spec.Groups[0].Name != "checkout-slo-availability" || rule.Labels["release"] != "test" {
		t.Fatalf("PrometheusRule groups = %d (%s), labels %v", len(rule.Spec.Groups), rule.Spec.Groups[0].Name, rule.Labels)
	}
	goodGeneration := rule.Generation

	// Someone deletes the alerts by hand; the operator restores them.
	edited := &monitoringv1.PrometheusRule{}
	editChild(t, ns, edited, func() { edited.Spec.Groups = edited.Spec.Groups[1:] })
	eventually(t, "rule groups restored", func() error {
		live := &monitoringv1.PrometheusRule{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if len(live.Spec.Groups) != 3 {
			return fmt.Errorf("%d groups", len(live.Spec.Groups))
		}
		goodGeneration = live.Generation
		return nil
	})
	eventually(t, "drift recorded", conditionIs(ns, "checkout", v1alpha1.DriftedCondition, metav1.ConditionTrue, v1alpha1.DriftCorrectedReason))

	// A query that does not parse is refused by the validating webhook, naming the field.
	rp := getProfile(t, ns, "checkout")
	rp.Spec.SLOs[0].Indicator.Ratio.Errors = `http_requests_total{job="checkout",code=~"5.."`
	if err := k8s.Update(ctx, rp); err == nil || !strings.Contains(err.Error(), "spec.slos[0].indicator.ratio.errors") {
		t.Fatalf("the update was not refused by the webhook naming the field: %v", err)
	}
	// Stored anyway (under an older operator, or while its webhook was not installed), render is the last
	// line: Ready=False InvalidQuery with the parser's message, and the last good PrometheusRule stays as it
	// was.
	pastProfileValidation(t, func() error {
		rp := getProfile(t, ns, "checkout")
		rp.Spec.SLOs[0].Indicator.Ratio.Errors = `http_requests_total{job="checkout",code=~"5.."`
		return k8s.Update(ctx, rp)
	})
	eventually(t, "Ready=False InvalidQuery", conditionIs(ns, "checkout", v1alpha1.ReadyCondition, metav1.ConditionFalse, v1alpha1.InvalidQueryReason))
	c := childState(t, ns, "checkout", "PrometheusRule")
	if c == nil || c.State != v1alpha1.ChildFailed || !strings.Contains(c.Message, "spec.slos[0].indicator.ratio.errors") ||
		!strings.Contains(c.Message, "unexpected end of input") || !strings.Contains(c.Message, "the last good one") {
		t.Errorf("resources[] entry = %+v, want Failed naming the field, the parser's message and the kept rule", c)
	}
	consistently(t, "the last good PrometheusRule must be kept", 2*time.Second, func() error {
		live := &monitoringv1.PrometheusRule{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, live); err != nil {
			return err
		}
		if live.Generation != goodGeneration || len(live.Spec.Groups) != 3 {
			return fmt.Errorf("it changed: generation %d→%d, %d groups", goodGeneration, live.Generation, len(live.Spec.Groups))
		}
		return nil
	})
	if s := childState(t, ns, "checkout", "PodDisruptionBudget"); s == nil || s.State != v1alpha1.ChildInSync {
		t.Errorf("the other children should still be reconciled: %+v", s)
	}
	// The dashboard reads the same SLOs: it keeps its last good version too, it is not pruned.
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &grafanav1beta1.GrafanaDashboard{}); err != nil {
		t.Errorf("the GrafanaDashboard was removed while the query is invalid: %v", err)
	}
}

func TestASecondProfileForTheSameServiceIsRefusedAndRendersNothing(t *testing.T) {
	ns := startReadyProfile(t)
	second := newProfile(ns)
	second.Name, second.Spec.Service = "checkout-copy", "other"
	createProfile(t, second)
	eventually(t, "second profile Ready", conditionIs(ns, "checkout-copy", v1alpha1.ReadyCondition, metav1.ConditionTrue, v1alpha1.ReconciledReason))
	// The second profile now claims the first one's service.
	second = getProfile(t, ns, "checkout-copy")
	second.Spec.Service = "checkout"
	if err := k8s.Update(ctx, second); err != nil {
		t.Fatal(err)
	}

	eventually(t, "Degraded DuplicateService", conditionIs(ns, "checkout-copy", v1alpha1.DegradedCondition, metav1.ConditionTrue, v1alpha1.DuplicateServiceReason))
	eventually(t, "Ready=False", conditionIs(ns, "checkout-copy", v1alpha1.ReadyCondition, metav1.ConditionFalse, v1alpha1.DuplicateServiceReason))
	c := meta.FindStatusCondition(getProfile(t, ns, "checkout-copy").Status.Conditions, v1alpha1.DegradedCondition)
	if !strings.Contains(c.Message, `"checkout" is already declared by the older profile checkout`) {
		t.Errorf("Degraded message = %q", c.Message)
	}
	// Its children, which would now collide with the first profile's, are gone.
	eventually(t, "the refused profile's children deleted", func() error {
		for _, obj := range []client.Object{&monitoringv1.ServiceMonitor{}, &monitoringv1.PrometheusRule{}, &policyv1.PodDisruptionBudget{},
			&grafanav1beta1.GrafanaDashboard{}} {
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout-copy"}, obj); !apierrors.IsNotFound(err) {
				return fmt.Errorf("the refused profile still has a %T (err=%v)", obj, err)
			}
		}
		return nil
	})
	waitReady(t, ns) // the first profile is untouched
}

func withBackup(rp *v1alpha1.ReliabilityProfile) *v1alpha1.ReliabilityProfile {
	rp.Spec.DisasterRecovery = &v1alpha1.DisasterRecoverySpec{RPO: "2h", Backup: &v1alpha1.BackupSpec{StorageLocation: "default"}}
	return rp
}

// A backup is a Velero Schedule in Velero's namespace: no owner reference can point across namespaces, so
// the Schedule is owned by annotation, found by labels, restored when changed, and deleted by the profile's
// finalizer.
func TestABackupIsAVeleroScheduleInVelerosNamespace(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, withBackup(newProfile(ns)))
	waitReady(t, ns)
	rp := getProfile(t, ns, "checkout")
	if !controllerutil.ContainsFinalizer(rp, "reliability.dev/cleanup") {
		t.Errorf("the profile lacks the cleanup finalizer: %v", rp.Finalizers)
	}
	if rp.Status.DisasterRecovery == nil || rp.Status.DisasterRecovery.BackupSchedule != dr.ScheduleName(ns, "checkout")+" every 1h" {
		t.Errorf("status.disasterRecovery = %+v", rp.Status.DisasterRecovery)
	}

	key := client.ObjectKey{Namespace: "velero", Name: dr.ScheduleName(ns, "checkout")}
	schedule := &velerov1.Schedule{}
	if err := k8s.Get(ctx, key, schedule); err != nil {
		t.Fatal(err)
	}
	if len(schedule.OwnerReferences) != 0 || schedule.Annotations["reliability.dev/owner-uid"] != string(rp.UID) ||
		schedule.Spec.Schedule != "@every 1h" || schedule.Spec.Template.IncludedNamespaces[0] != ns || schedule.Spec.Template.Metadata.Labels[render.ManagedByLabel] != "" || schedule.Spec.Template.TTL.Duration != 720*time.Hour {
		t.Errorf("Schedule = owners %v, annotations %v, spec %+v", schedule.OwnerReferences, schedule.Annotations, schedule.Spec)
	}

	// Someone makes the backups rare; the label-mapped watch brings the operator back.
	edited := &velerov1.Schedule{}
	editObject(t, key, edited, func() { edited.Spec.Schedule = "@every 168h" })
	eventually(t, "Schedule restored", func() error {
		live := &velerov1.Schedule{}
		if err := k8s.Get(ctx, key, live); err != nil {
			return err
		}
		if live.Spec.Schedule != "@every 1h" {
			return fmt.Errorf("schedule is %q", live.Spec.Schedule)
		}
		return nil
	})

	if err := k8s.Delete(ctx, rp); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Schedule and profile deleted", func() error {
		if err := k8s.Get(ctx, key, &velerov1.Schedule{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the Schedule is still there (err=%v)", err)
		}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &v1alpha1.ReliabilityProfile{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("the profile is still there (err=%v)", err)
		}
		return nil
	})
}

func TestAForeignVeleroScheduleIsNotTaken(t *testing.T) {
	ns := newNamespace(t)
	foreign := &velerov1.Schedule{
		ObjectMeta: metav1.ObjectMeta{Namespace: "velero", Name: dr.ScheduleName(ns, "checkout")},
		Spec:       velerov1.ScheduleSpec{Schedule: "@every 24h"},
	}
	if err := k8s.Create(ctx, foreign, client.FieldOwner("hand-written")); err != nil {
		t.Fatal(err)
	}
	createProfile(t, withBackup(newProfile(ns)))
	eventually(t, "Degraded ForeignObject", conditionIs(ns, "checkout", v1alpha1.DegradedCondition, metav1.ConditionTrue, v1alpha1.ForeignObjectReason))
	live := &velerov1.Schedule{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), live); err != nil || live.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the foreign Schedule was changed: %v", err)
	}
	// Deleting the profile must not delete the foreign Schedule either.
	if err := k8s.Delete(ctx, getProfile(t, ns, "checkout")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "profile deleted", func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "checkout"}, &v1alpha1.ReliabilityProfile{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (err=%v)", err)
		}
		return nil
	})
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), &velerov1.Schedule{}); err != nil {
		t.Errorf("the foreign Schedule was deleted with the profile: %v", err)
	}
}
