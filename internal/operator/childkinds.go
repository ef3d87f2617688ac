package operator

import (
	"context"
	"slices"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/reliability-operator/reliability-operator/controllers"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// childKindWatch starts managing a child kind once its CRD is established. Only kinds the operator did not
// find at start-up are looked for; what discovery found then is not looked up again, so no reconcile ever
// asks discovery (the REST mapper asks once more when the new kind's informer starts).
type childKindWatch struct {
	client   client.Reader
	profiles *controllers.ReliabilityProfileReconciler
}

func (w *childKindWatch) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := w.client.Get(ctx, req.NamespacedName, crd); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !established(crd) {
		return ctrl.Result{}, nil // its update to Established comes as another event
	}
	for _, child := range render.ChildTypes() {
		gvk := child.GetObjectKind().GroupVersionKind()
		if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind || !serves(crd, gvk.Version) {
			continue
		}
		if err := w.profiles.ChildKindInstalled(ctx, child); err != nil && !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

func established(crd *apiextensionsv1.CustomResourceDefinition) bool {
	return slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
		return c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue
	})
}

func serves(crd *apiextensionsv1.CustomResourceDefinition, version string) bool {
	return slices.ContainsFunc(crd.Spec.Versions, func(v apiextensionsv1.CustomResourceDefinitionVersion) bool {
		return v.Name == version && v.Served
	})
}

// childGroups are the API groups of the child kinds; the watch passes only CRDs of these.
func childGroups() []string {
	var groups []string
	for _, child := range render.ChildTypes() {
		if g := child.GetObjectKind().GroupVersionKind().Group; !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return groups
}

func setUpChildKindWatch(mgr ctrl.Manager, profiles *controllers.ReliabilityProfileReconciler) error {
	groups := childGroups()
	ofChildGroup := predicate.NewPredicateFuncs(func(o client.Object) bool {
		crd, ok := o.(*apiextensionsv1.CustomResourceDefinition)
		return ok && slices.Contains(groups, crd.Spec.Group)
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("childkinds").
		For(&apiextensionsv1.CustomResourceDefinition{}, builder.WithPredicates(ofChildGroup)).
		Complete(&childKindWatch{client: mgr.GetClient(), profiles: profiles})
}

// crdIdentity is how the cache keeps a CRD: its group, kind, served versions and conditions. The schemas,
// which are nearly all of a CRD (prometheus-operator's are megabytes), are dropped.
func crdIdentity(obj any) (any, error) {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return obj, nil
	}
	kept := &apiextensionsv1.CustomResourceDefinition{
		TypeMeta:   crd.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: crd.Name, UID: crd.UID, ResourceVersion: crd.ResourceVersion, Generation: crd.Generation},
		Spec:       apiextensionsv1.CustomResourceDefinitionSpec{Group: crd.Spec.Group, Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: crd.Spec.Names.Kind}},
		Status:     apiextensionsv1.CustomResourceDefinitionStatus{Conditions: crd.Status.Conditions},
	}
	for _, v := range crd.Spec.Versions {
		kept.Spec.Versions = append(kept.Spec.Versions, apiextensionsv1.CustomResourceDefinitionVersion{Name: v.Name, Served: v.Served})
	}
	return kept, nil
}
