package controllers_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/controllers"
	"github.com/reliability-operator/reliability-operator/internal/apply"
)

// createsAfterNotFound is a reader past the cache with someone else creating an object right after it
// answered that the object does not exist: the narrowest window between the operator's read and its write.
type createsAfterNotFound struct {
	client.Reader
	once    sync.Once
	foreign client.Object
}

func (r *createsAfterNotFound) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	err := r.Reader.Get(ctx, key, obj, opts...)
	if apierrors.IsNotFound(err) {
		r.once.Do(func() {
			if cerr := k8s.Create(ctx, r.foreign, client.FieldOwner("hand-written")); cerr != nil {
				err = cerr
			}
		})
	}
	return err
}

// Loki's overrides ConfigMap lives outside every profile's namespace and is found by name: one that someone
// creates after the log retention reconciler found none, and before it writes, is left as it is and reported.
func TestALokiConfigMapCreatedBetweenTheReadAndTheCreateIsNotOverwritten(t *testing.T) {
	ns := newNamespace(t)
	createProfile(t, newProfile(ns))
	name := types.NamespacedName{Namespace: "loki", Name: "retention-" + ns}
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
		Data: map[string]string{"runtime-config.yaml": "overrides: {}\n"}}
	state := controllers.NewLogRetentionState()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // nobody else reads the profiles' change events of this reconciler
		for {
			select {
			case <-state.Changed:
			case <-runCtx.Done():
				return
			}
		}
	}()
	r := &controllers.LogRetentionReconciler{Client: k8s, APIReader: &createsAfterNotFound{Reader: k8s, foreign: foreign},
		ConfigMap: name, Tenant: "fake", State: state}

	if _, err := r.Reconcile(runCtx, ctrl.Request{NamespacedName: name}); err != nil {
		t.Fatal(err)
	}
	if foreign.ResourceVersion == "" {
		t.Fatal("the foreign ConfigMap was not created in the window")
	}
	live := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, name, live); err != nil {
		t.Fatal(err)
	}
	if live.ResourceVersion != foreign.ResourceVersion || len(live.Labels) != 0 {
		t.Errorf("the foreign ConfigMap was written to: resourceVersion %s → %s, labels %v, data %v",
			foreign.ResourceVersion, live.ResourceVersion, live.Labels, live.Data)
	}
	for _, e := range live.ManagedFields {
		if e.Manager == apply.FieldOwner {
			t.Errorf("the operator's field manager has an entry in the foreign ConfigMap: %+v", e)
		}
	}
	if enforced, why := state.Enforced(newProfile(ns)); enforced || !strings.Contains(why, "exists and is not owned") {
		t.Errorf("retention enforced=%v (%s), want not enforced because of the foreign ConfigMap", enforced, why)
	}
}
