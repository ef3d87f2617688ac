package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
)

// BenchmarkAdmitAPodOfALargeWorkload is the webhook's own work for one pod of a ReplicaSet that already has
// 200 pods (half spot-eligible) in a namespace with 21 profiles: `go test ./internal/webhook -bench Admit
// -benchmem`. The reads go to cacheLikeReader, which hands out copies of stored objects by index as the
// informer cache does, not to controller-runtime's fake client, whose conversions cost far more than the
// cache (about 19 ms per admission here, which would hide the webhook's own cost).
func BenchmarkAdmitAPodOfALargeWorkload(b *testing.B) {
	t := &testing.T{}
	var profiles []*v1alpha1.ReliabilityProfile
	for i := range 20 {
		p := profile(fmt.Sprintf("svc-%d", i), v1alpha1.ModeEnforce, "0.5")
		p.Spec.Selector.MatchLabels = map[string]string{"app": fmt.Sprintf("svc-%d", i)}
		profiles = append(profiles, p)
	}
	profiles = append(profiles, profile("web", v1alpha1.ModeEnforce, "0.5"))
	f := newFixture(t, 400, profiles...)
	f.t = t
	for i := range 200 {
		outcome := placement.OnDemand
		if i%2 == 0 {
			outcome = placement.SpotEligible
		}
		f.persist(fmt.Sprintf("web-1-%d", i), outcome, fmt.Sprintf("old-%d", i), false)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-1-", Namespace: "shop", Labels: map[string]string{"app": "web"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-1", UID: "rs-uid", Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
	raw, _ := json.Marshal(pod)
	ctx := context.Background()
	reader := &cacheLikeReader{rs: f.rs, podsByOwner: map[string][]corev1.Pod{}}
	if err := f.client.List(ctx, &reader.profiles); err != nil {
		b.Fatal(err)
	}
	pods := &corev1.PodList{}
	if err := f.client.List(ctx, pods); err != nil {
		b.Fatal(err)
	}
	for _, p := range pods.Items {
		for _, uid := range PodOwnerUID(&p) {
			reader.podsByOwner[uid] = append(reader.podsByOwner[uid], p)
		}
	}
	f.hook.Cache, f.hook.Live = reader, reader
	b.ResetTimer()
	for i := range b.N {
		resp := f.hook.Handle(ctx, admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
			UID: types.UID(fmt.Sprintf("bench-%d", i)), Operation: admissionv1.Create, Namespace: "shop", DryRun: ptr.To(true),
			Object: runtime.RawExtension{Raw: raw}}})
		if !resp.Allowed || len(resp.Patches) == 0 {
			b.Fatalf("not placed: %v", resp.Result)
		}
	}
}

// cacheLikeReader serves stored objects, pods by PodOwnerIndex, like the informer cache: deep copies unless
// the reader asks for the cache's own objects (client.UnsafeDisableDeepCopy).
type cacheLikeReader struct {
	profiles    v1alpha1.ReliabilityProfileList
	podsByOwner map[string][]corev1.Pod
	rs          *appsv1.ReplicaSet
}

func (r *cacheLikeReader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return fmt.Errorf("unexpected Get of %T", obj)
	}
	r.rs.DeepCopyInto(rs)
	return nil
}

func (r *cacheLikeReader) List(_ context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	shared := o.UnsafeDisableDeepCopy != nil && *o.UnsafeDisableDeepCopy
	switch l := list.(type) {
	case *v1alpha1.ReliabilityProfileList:
		if shared {
			l.Items = r.profiles.Items
			return nil
		}
		r.profiles.DeepCopyInto(l)
	case *corev1.PodList:
		owner, _ := o.FieldSelector.RequiresExactMatch(PodOwnerIndex)
		for _, p := range r.podsByOwner[owner] {
			if !shared {
				p = *p.DeepCopy()
			}
			l.Items = append(l.Items, p)
		}
	default:
		return fmt.Errorf("unexpected List of %T", list)
	}
	return nil
}
