package apply

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// k8s talks to the real API server directly: these tests give the applier no cache, so every read reaches
// the server and the interleavings below are exact.
var k8s client.Client

func TestMain(m *testing.M) {
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The operator's scheme lives in internal/operator, which imports this package.
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, velerov1.AddToScheme} {
		if err == nil {
			err = add(scheme)
		}
	}
	if err == nil {
		k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	}
	if err == nil {
		err = k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "velero"}})
	}
	code := 1
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	} else {
		code = m.Run()
	}
	_ = env.Stop()
	os.Exit(code)
}

// createsAfterNotFound is the applier's cache, with someone else creating an object right after the cache
// answered that it has none of that name: the narrowest window there is between the operator's read and its
// create.
type createsAfterNotFound struct {
	client.Client
	once    sync.Once
	foreign client.Object
}

func (c *createsAfterNotFound) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := c.Client.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		c.once.Do(func() {
			if cerr := k8s.Create(ctx, c.foreign, client.FieldOwner("hand-written")); cerr != nil {
				err = fmt.Errorf("creating the foreign object: %w", cerr)
			}
		})
	}
	return err
}

func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "apply-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// newProfile stores a profile, so that it has the UID its children's ownership is checked against.
func newProfile(t *testing.T, ns string) *v1alpha1.ReliabilityProfile {
	t.Helper()
	rp := &v1alpha1.ReliabilityProfile{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: ns},
		Spec: v1alpha1.ReliabilityProfileSpec{
			Service: "checkout", Tier: v1alpha1.TierNonCritical,
			Selector:         v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
			Disruption:       &v1alpha1.DisruptionSpec{MinAvailable: ptr.To(intstr.FromInt32(1))},
			DisasterRecovery: &v1alpha1.DisasterRecoverySpec{RPO: "2h", Backup: &v1alpha1.BackupSpec{StorageLocation: "default"}},
		},
	}
	if err := k8s.Create(context.Background(), rp); err != nil {
		t.Fatal(err)
	}
	return rp
}

func TestAnObjectCreatedBetweenTheReadAndTheCreateIsNotTaken(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// child is the profile's rendered child; foreign is someone else's object of the same name.
		child, foreign func(rp *v1alpha1.ReliabilityProfile) client.Object
	}{{
		name:  "a PodDisruptionBudget in the profile's namespace",
		child: func(rp *v1alpha1.ReliabilityProfile) client.Object { return render.PodDisruptionBudget(rp) },
		foreign: func(rp *v1alpha1.ReliabilityProfile) client.Object {
			return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: rp.Namespace, Name: rp.Name},
				Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromString("50%")),
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "batch"}}}}
		},
	}, {
		name: "a Velero Schedule in Velero's namespace",
		child: func(rp *v1alpha1.ReliabilityProfile) client.Object {
			s, err := render.VeleroSchedule(rp, render.Options{VeleroNamespace: "velero"})
			if err != nil || s == nil {
				t.Fatalf("no Schedule rendered: %v", err)
			}
			return s
		},
		foreign: func(rp *v1alpha1.ReliabilityProfile) client.Object {
			s, _ := render.VeleroSchedule(rp, render.Options{VeleroNamespace: "velero"})
			return &velerov1.Schedule{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name},
				Spec: velerov1.ScheduleSpec{Schedule: "@every 24h"}}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newProfile(t, newNamespace(t))
			child, foreign := tc.child(rp), tc.foreign(rp)
			a := &Applier{Client: &createsAfterNotFound{Client: k8s, foreign: foreign}, APIReader: k8s}

			res := a.Apply(ctx, rp, []client.Object{child})[0]
			if res.State != v1alpha1.ChildConflict || res.Reason != v1alpha1.ForeignObjectReason || res.Wrote || res.Retry {
				t.Errorf("result = %+v, want Conflict/ForeignObject, nothing written", res)
			}
			if foreign.GetResourceVersion() == "" {
				t.Fatal("the foreign object was not created in the window")
			}
			live := foreign.DeepCopyObject().(client.Object)
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), live); err != nil {
				t.Fatal(err)
			}
			if live.GetResourceVersion() != foreign.GetResourceVersion() || len(live.GetOwnerReferences()) != 0 {
				t.Errorf("the foreign object was written to: resourceVersion %s → %s, owners %v",
					foreign.GetResourceVersion(), live.GetResourceVersion(), live.GetOwnerReferences())
			}
			for _, e := range live.GetManagedFields() {
				if e.Manager == FieldOwner {
					t.Errorf("the operator's field manager has an entry in the foreign object: %+v", e)
				}
			}
		})
	}
}

// A child the applier created belongs to server-side apply alone: a later apply that leaves a field out
// removes it. Had the create's Update entry kept minAvailable, the budget would hold both minAvailable and
// maxUnavailable, which the API server refuses.
func TestAChildTheApplierCreatedLosesTheFieldsALaterApplyLeavesOut(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// create makes the child before the applier's first look, or leaves that to the applier.
		create func(t *testing.T, rp *v1alpha1.ReliabilityProfile, pdb *policyv1.PodDisruptionBudget)
	}{{
		name:   "created by the applier",
		create: func(*testing.T, *v1alpha1.ReliabilityProfile, *policyv1.PodDisruptionBudget) {},
	}, {
		name: "created with its fields still under the create's Update entry, as when the hand-over failed",
		create: func(t *testing.T, rp *v1alpha1.ReliabilityProfile, pdb *policyv1.PodDisruptionBudget) {
			// What the applier creates, owner reference and hash included, without the hand-over.
			obj, err := desiredManifest(rp, pdb)
			if err != nil {
				t.Fatal(err)
			}
			if err := k8s.Create(ctx, obj, client.FieldOwner(FieldOwner)); err != nil {
				t.Fatal(err)
			}
			if !OwnsThroughUpdate(obj) {
				t.Fatalf("a create did not record an Update entry: %+v", obj.GetManagedFields())
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			rp := newProfile(t, newNamespace(t))
			a := &Applier{Client: k8s, APIReader: k8s}
			first := render.PodDisruptionBudget(rp)
			tc.create(t, rp, first)
			if res := a.Apply(ctx, rp, []client.Object{first})[0]; res.State != v1alpha1.ChildInSync || res.Retry {
				t.Fatalf("first apply: %+v", res)
			}
			live := &policyv1.PodDisruptionBudget{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(first), live); err != nil {
				t.Fatal(err)
			}
			var entries []string
			for _, e := range live.ManagedFields {
				entries = append(entries, fmt.Sprintf("%s/%s", e.Manager, e.Operation))
			}
			if len(live.ManagedFields) != 1 || live.ManagedFields[0].Manager != FieldOwner ||
				live.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
				t.Errorf("managed fields %v, want only %s/Apply", entries, FieldOwner)
			}

			rp.Spec.Disruption = &v1alpha1.DisruptionSpec{MaxUnavailable: ptr.To(intstr.FromInt32(2))}
			res := a.Apply(ctx, rp, []client.Object{render.PodDisruptionBudget(rp)})[0]
			if res.State != v1alpha1.ChildInSync || !res.Wrote || res.Retry {
				t.Fatalf("second apply: %+v", res)
			}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(first), live); err != nil {
				t.Fatal(err)
			}
			if live.Spec.MinAvailable != nil || live.Spec.MaxUnavailable == nil || live.Spec.MaxUnavailable.IntValue() != 2 {
				t.Errorf("spec = minAvailable %v, maxUnavailable %v; want only maxUnavailable 2", live.Spec.MinAvailable, live.Spec.MaxUnavailable)
			}
		})
	}
}

// CreateByApply rests on how the API server answers a server-side apply with a resourceVersion: it creates
// the object when there is none, and refuses to touch one that exists.
func TestCreateByApply(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	missing := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "missing", "namespace": ns}, "data": map[string]any{"k": "v"}}}
	if err := CreateByApply(ctx, k8s, missing); err != nil {
		t.Fatalf("creating a missing object: %v", err)
	}
	created := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(missing), created); err != nil {
		t.Fatal(err)
	}
	if created.Data["k"] != "v" || len(created.ManagedFields) != 1 || created.ManagedFields[0].Manager != FieldOwner ||
		created.ManagedFields[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Errorf("created %v with managed fields %+v, want data k=v owned by %s/Apply alone", created.Data, created.ManagedFields, FieldOwner)
	}

	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "existing", Namespace: ns}, Data: map[string]string{"k": "theirs"}}
	if err := k8s.Create(ctx, existing, client.FieldOwner("hand-written")); err != nil {
		t.Fatal(err)
	}
	again := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "existing", "namespace": ns}, "data": map[string]any{"k": "v"}}}
	if err := CreateByApply(ctx, k8s, again); !apierrors.IsConflict(err) {
		t.Fatalf("creating over an existing object: %v, want a Conflict", err)
	}
	live := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(existing), live); err != nil {
		t.Fatal(err)
	}
	if live.ResourceVersion != existing.ResourceVersion || live.Data["k"] != "theirs" {
		t.Errorf("the existing object was written: resourceVersion %s → %s, data %v", existing.ResourceVersion, live.ResourceVersion, live.Data)
	}
}
