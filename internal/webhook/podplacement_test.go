package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jsonpatchv5 "github.com/evanphx/json-patch/v5"
	jsonpatch "gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
)

// These are unit tests of the handler's bookkeeping with a fake client; the envtest suite in controllers/
// covers the webhook behind the real API server.

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

type fixture struct {
	t      *testing.T
	client client.Client
	hook   *PodPlacement
	now    time.Time
	rs     *appsv1.ReplicaSet
}

func newFixture(t *testing.T, replicas int32, profiles ...*v1alpha1.ReliabilityProfile) *fixture {
	s := newScheme(t)
	rs := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "shop", UID: "rs-uid"},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)}}
	objs := []client.Object{rs}
	for _, p := range profiles {
		objs = append(objs, p)
	}
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).WithIndex(&corev1.Pod{}, PodOwnerIndex, PodOwnerUID).Build()
	f := &fixture{t: t, client: c, now: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC), rs: rs}
	f.hook = &PodPlacement{Cache: c, Live: c, Decoder: admission.NewDecoder(s), Audits: NewAuditLog(), Now: func() time.Time { return f.now }}
	return f
}

func profile(name string, mode v1alpha1.Mode, fraction string) *v1alpha1.ReliabilityProfile {
	return &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"},
		Spec: v1alpha1.ReliabilityProfileSpec{Service: name, Tier: v1alpha1.TierNonCritical, Mode: mode,
			Selector:  v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Placement: &v1alpha1.PlacementSpec{MaxSpotFraction: fraction}}}
}

// admit sends a pod of the ReplicaSet through the handler and returns the outcome it recorded on the pod.
func (f *fixture) admit(uid string, dryRun bool, op admissionv1.Operation) (placement.Outcome, admission.Response) {
	f.t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-1-", Namespace: "shop", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-uid", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	raw, _ := json.Marshal(pod)
	resp := f.hook.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: types.UID(uid), Operation: op, Namespace: "shop", DryRun: ptr.To(dryRun),
		Object: runtime.RawExtension{Raw: raw}}})
	if !resp.Allowed {
		f.t.Fatalf("pod refused: %v", resp.Result)
	}
	if len(resp.Patches) == 0 {
		return "", resp
	}
	patched := applyPatches(f.t, raw, resp.Patches)
	return placement.Outcome(patched.Annotations[placement.DecisionAnnotation]), resp
}

// applyPatches applies the handler's JSON patch as the API server does.
func applyPatches(t *testing.T, raw []byte, patches []jsonpatch.JsonPatchOperation) *corev1.Pod {
	t.Helper()
	ops, err := json.Marshal(patches)
	if err != nil {
		t.Fatal(err)
	}
	patch, err := jsonpatchv5.DecodePatch(ops)
	if err != nil {
		t.Fatal(err)
	}
	out, err := patch.Apply(raw)
	if err != nil {
		t.Fatalf("the patch does not apply: %v", err)
	}
	pod := &corev1.Pod{}
	if err := json.Unmarshal(out, pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// persist stores a pod as the API server would after admission: with the annotations the handler decided.
func (f *fixture) persist(name string, outcome placement.Outcome, requestUID string, terminating bool) {
	f.t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", Labels: map[string]string{"app": "web"},
		Annotations:     map[string]string{placement.DecisionAnnotation: string(outcome), placement.RequestAnnotation: requestUID},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-uid", Controller: ptr.To(true)}}}}
	if terminating {
		pod.Finalizers = []string{"test/hold"}
	}
	if err := f.client.Create(context.Background(), pod); err != nil {
		f.t.Fatal(err)
	}
	if terminating {
		if err := f.client.Delete(context.Background(), pod); err != nil {
			f.t.Fatal(err)
		}
	}
}

func TestDecisionsNotYetInTheCacheCountUntilTheirPodAppearsOrTheyExpire(t *testing.T) {
	f := newFixture(t, 2, profile("web", v1alpha1.ModeEnforce, "0.5"))
	if got, _ := f.admit("req-1", false, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("first pod: %s", got)
	}
	// Not in the cache yet: the pending decision holds the only slot.
	if got, _ := f.admit("req-2", false, admissionv1.Create); got != placement.OnDemand {
		t.Fatalf("second pod while the first is pending: %s", got)
	}
	// The first pod shows up in the cache: it is counted once, not twice.
	f.persist("web-1-a", placement.SpotEligible, "req-1", false)
	if got, _ := f.admit("req-3", false, admissionv1.Create); got != placement.OnDemand {
		t.Fatalf("third pod: %s", got)
	}
	if n := len(f.hook.owners["rs-uid"].pendingOrNil()); n != 0 {
		t.Errorf("%d decisions still pending after their pod appeared", n)
	}
}

func (s *ownerState) pendingOrNil() map[string]time.Time {
	if s == nil {
		return nil
	}
	return s.pending
}

func TestADecisionWhosePodNeverAppearsFreesItsSlotAfterTheTTL(t *testing.T) {
	f := newFixture(t, 2, profile("web", v1alpha1.ModeEnforce, "0.5"))
	f.admit("req-1", false, admissionv1.Create) // refused later in admission: never stored
	f.now = f.now.Add(pendingTTL - time.Second)
	if got, _ := f.admit("req-2", false, admissionv1.Create); got != placement.OnDemand {
		t.Fatalf("before the TTL: %s", got)
	}
	f.now = f.now.Add(2 * time.Second)
	if got, _ := f.admit("req-3", false, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("after the TTL: %s", got)
	}
}

func TestADryRunTakesNoSlot(t *testing.T) {
	f := newFixture(t, 2, profile("web", v1alpha1.ModeEnforce, "0.5"))
	if got, _ := f.admit("dry", true, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("dry run: %s", got)
	}
	if got, _ := f.admit("real", false, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("the dry run took the slot: %s", got)
	}
}

func TestATerminatingSpotPodFreesItsSlot(t *testing.T) {
	f := newFixture(t, 2, profile("web", v1alpha1.ModeEnforce, "0.5"))
	f.persist("web-1-old", placement.SpotEligible, "old", true)
	if got, _ := f.admit("req-1", false, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("replacement of a terminating pod: %s", got)
	}
}

func TestTheStrictestEnforceProfileGoverns(t *testing.T) {
	f := newFixture(t, 10,
		profile("loose", v1alpha1.ModeEnforce, "0.5"),
		profile("strict", v1alpha1.ModeEnforce, "0"),
		profile("audit", v1alpha1.ModeAudit, "0"))
	if got, resp := f.admit("req-1", false, admissionv1.Create); got != placement.OnDemand {
		t.Fatalf("got %s (%v)", got, resp.Result)
	}
	if q := f.hook.Audits.Take(types.NamespacedName{Namespace: "shop", Name: "audit"}); len(q) != 0 {
		t.Errorf("an Audit profile recorded a pod an Enforce profile governs: %v", q)
	}
}

func TestAnAuditProfileRecordsButDoesNotPatch(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeAudit, "0.5"))
	got, resp := f.admit("req-1", false, admissionv1.Create)
	if got != "" || len(resp.Patches) != 0 {
		t.Fatalf("Audit mode patched the pod: %v", resp.Patches)
	}
	f.admit("req-dry", true, admissionv1.Create)
	q := f.hook.Audits.Take(types.NamespacedName{Namespace: "shop", Name: "web"})
	if len(q) != 1 || q[0].Decision.Outcome != placement.SpotEligible {
		t.Errorf("audit records %+v, want one spot-eligible (the dry run is not recorded)", q)
	}
}

func TestOnlyCreationsOfSelectedPodsArePlaced(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeEnforce, "0.5"))
	if got, resp := f.admit("req-1", false, admissionv1.Update); got != "" || len(resp.Patches) != 0 {
		t.Errorf("an update was patched: %v", resp.Patches)
	}
	batch := profile("batch", v1alpha1.ModeEnforce, "0.5")
	batch.Spec.Selector.MatchLabels = map[string]string{"app": "batch"}
	other := newFixture(t, 10, batch)
	if got, resp := other.admit("req-1", false, admissionv1.Create); got != "" || len(resp.Patches) != 0 {
		t.Errorf("a pod no profile selects was patched: %v", resp.Patches)
	}
}

func TestAnUnreadableOwnerKeepsThePodOffSpot(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeEnforce, "0.5"))
	if err := f.client.Delete(context.Background(), f.rs); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.admit("req-1", false, admissionv1.Create); got != placement.OnDemand {
		t.Errorf("got %s", got)
	}
	if len(f.hook.owners) != 0 {
		t.Errorf("workload state kept for %d owners with nothing pending", len(f.hook.owners))
	}
}

func TestConcurrentAdmissionsOfOneWorkloadStayWithinTheCap(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeEnforce, "0.5"))
	outcomes := make(chan placement.Outcome, 40)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, _ := f.admit(fmt.Sprintf("req-%d", i), false, admissionv1.Create)
			outcomes <- got
		}()
	}
	wg.Wait()
	close(outcomes)
	eligible := 0
	for o := range outcomes {
		if o == placement.SpotEligible {
			eligible++
		}
	}
	if eligible != 5 {
		t.Errorf("%d of 40 concurrent pods spot-eligible, want floor(0.5 × 10) = 5", eligible)
	}
}

func TestThePatchTouchesOnlyWhatPlacementAdds(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeEnforce, "0.5"))
	// A field of a newer API server, and a quantity in a non-canonical spelling.
	raw := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"web-1-","namespace":"shop","labels":{"app":"web"},
		"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-1","uid":"rs-uid","controller":true}]},
		"spec":{"futurePodField":{"x":1},"containers":[{"name":"app","image":"app","futureContainerField":true,
		"resources":{"requests":{"cpu":"1000m"}}}]}}`)
	resp := f.hook.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "req-1", Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: raw}}})
	if !resp.Allowed || len(resp.Patches) == 0 {
		t.Fatalf("allowed %v, %d patches", resp.Allowed, len(resp.Patches))
	}
	for _, p := range resp.Patches {
		if p.Operation != "add" || !(strings.HasPrefix(p.Path, "/metadata/annotations") || strings.HasPrefix(p.Path, "/spec/affinity") || strings.HasPrefix(p.Path, "/spec/tolerations")) {
			t.Errorf("unexpected patch operation %s %s", p.Operation, p.Path)
		}
	}
	ops, _ := json.Marshal(resp.Patches)
	patch, _ := jsonpatchv5.DecodePatch(ops)
	out, err := patch.Apply(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, kept := range []string{`"futurePodField":{"x":1}`, `"futureContainerField":true`, `"cpu":"1000m"`} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("%s was lost: %s", kept, out)
		}
	}
}

func TestThePodIsAdmittedWhenTheWebhookCannotWork(t *testing.T) {
	f := newFixture(t, 10, profile("web", v1alpha1.ModeEnforce, "0.5"))
	resp := f.hook.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "req-1", Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(`{"spec":`)}}})
	if !resp.Allowed || len(resp.Patches) != 0 {
		t.Errorf("an undecodable pod: allowed %v, patches %v", resp.Allowed, resp.Patches)
	}
	f.hook.Decoder = nil // the handler panics
	resp = f.hook.Handle(context.Background(), admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID: "req-2", Operation: admissionv1.Create, Namespace: "shop", Object: runtime.RawExtension{Raw: []byte(`{}`)}}})
	if !resp.Allowed {
		t.Errorf("a panic refused the pod: %v", resp.Result)
	}
}

func TestAWorkloadThatGetsNoFurtherPodIsForgotten(t *testing.T) {
	f := newFixture(t, 2, profile("web", v1alpha1.ModeEnforce, "0.5"))
	f.admit("req-1", false, admissionv1.Create) // spot-eligible, pending; no later pod of web-1 follows
	if len(f.hook.owners) != 1 {
		t.Fatalf("%d workloads remembered, want the one with a pending decision", len(f.hook.owners))
	}
	f.now = f.now.Add(pendingTTL + time.Second)
	st := f.hook.lock("another-workload")
	f.hook.unlock("another-workload", st)
	if len(f.hook.owners) != 0 {
		t.Errorf("%d workloads still remembered after their decisions expired", len(f.hook.owners))
	}
}

func TestAProfileWhosePlacementCannotBeAppliedDoesNotDisableAnother(t *testing.T) {
	invalid := profile("old", v1alpha1.ModeEnforce, "0.5")
	invalid.Spec.Placement.SpotNodeLabel = &v1alpha1.NodeLabel{Key: "example..com/spot", Value: "true"} // stored under an older CRD
	f := newFixture(t, 10, invalid, profile("strict", v1alpha1.ModeEnforce, "0"))
	if got, resp := f.admit("req-1", false, admissionv1.Create); got != placement.OnDemand {
		t.Errorf("got %q (%v), want the valid profile's on-demand", got, resp.Result)
	}
	alone := newFixture(t, 10, invalid)
	if got, resp := alone.admit("req-1", false, admissionv1.Create); got != "" || len(resp.Patches) != 0 {
		t.Errorf("the invalid profile placed the pod: %v", resp.Patches)
	}
}

// A profile that sets no limit gets its tier's from the cluster's ReliabilityPolicy, read at each admission.
func TestTheTierLimitOfThePolicyGovernsAProfileWithoutItsOwn(t *testing.T) {
	rp := profile("web", v1alpha1.ModeEnforce, "")
	rp.Spec.Placement = nil // non-critical: 0.5 by the manifesto's default
	f := newFixture(t, 10, rp)
	if got, resp := f.admit("req-1", false, admissionv1.Create); got != placement.SpotEligible {
		t.Fatalf("without a policy: %s (%v), want spot-eligible under the default 0.5", got, resp.Result)
	}
	pol := &v1alpha1.ReliabilityPolicy{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.PolicyName}, Spec: v1alpha1.ReliabilityPolicySpec{
		Tiers: v1alpha1.TierPolicies{NonCritical: &v1alpha1.TierPolicy{MaxSpotFraction: "0"}}}}
	if err := f.client.Create(context.Background(), pol); err != nil {
		t.Fatal(err)
	}
	f.hook.Policies = f.client
	if got, resp := f.admit("req-2", false, admissionv1.Create); got != placement.OnDemand {
		t.Fatalf("under a policy of 0 for the tier: %s (%v), want on-demand", got, resp.Result)
	}
}
