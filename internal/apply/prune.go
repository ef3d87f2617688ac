package apply

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// Prune deletes the children of the given kinds that the profile owns but no longer renders, such as the
// NetworkPolicy after spec.network was removed. Children are found by their labels in every namespace. It
// only deletes objects whose controller is this profile, with a UID precondition, so an object someone
// recreated under the same name in between is never taken.
// Audit mode deletes nothing. It returns the deleted children as "Kind/name".
func (a *Applier) Prune(ctx context.Context, owner *v1alpha1.ReliabilityProfile, desired []client.Object, kinds []schema.GroupVersionKind) ([]string, error) {
	if owner.Spec.Mode == v1alpha1.ModeAudit {
		return nil, nil
	}
	return a.deleteChildren(ctx, owner, desired, kinds)
}

// Cleanup deletes every child of the profile, in any namespace and whatever its mode: the profile is being
// deleted, and children outside its namespace have no owner reference for the garbage collector to follow.
func (a *Applier) Cleanup(ctx context.Context, owner *v1alpha1.ReliabilityProfile, kinds []schema.GroupVersionKind) ([]string, error) {
	return a.deleteChildren(ctx, owner, nil, kinds)
}

func (a *Applier) deleteChildren(ctx context.Context, owner *v1alpha1.ReliabilityProfile, desired []client.Object, kinds []schema.GroupVersionKind) ([]string, error) {
	type key struct{ namespace, name string }
	keep := map[schema.GroupVersionKind]map[key]bool{}
	for _, o := range desired {
		gvk := o.GetObjectKind().GroupVersionKind()
		if keep[gvk] == nil {
			keep[gvk] = map[key]bool{}
		}
		keep[gvk][key{o.GetNamespace(), o.GetName()}] = true
	}
	var deleted []string
	for _, gvk := range kinds {
		if reason, _ := a.kindInstalled(gvk); reason == v1alpha1.KindNotInstalledReason {
			continue // no CRD, no children
		}
		list, err := a.newList(gvk)
		if err != nil {
			return deleted, err
		}
		// In every namespace: a child may live outside the profile's (a Velero Schedule).
		var selector client.ListOption = client.MatchingLabels{render.ProfileLabel: owner.Name,
			render.ProfileNamespaceLabel: owner.Namespace, render.ManagedByLabel: render.ManagedByValue}
		if a.ProfileIndex != "" {
			selector = client.MatchingFields{a.ProfileIndex: owner.Namespace + "/" + owner.Name}
		}
		if err := a.Client.List(ctx, list, selector, client.UnsafeDisableDeepCopy); err != nil {
			return deleted, fmt.Errorf("listing %s children: %w", gvk.Kind, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return deleted, err
		}
		for _, it := range items {
			item, ok := it.(client.Object)
			if !ok || keep[gvk][key{item.GetNamespace(), item.GetName()}] || !IsControlledBy(item, owner) {
				continue
			}
			uid := item.GetUID()
			err := a.Client.Delete(ctx, item, client.Preconditions{UID: &uid})
			if err != nil && !apierrors.IsNotFound(err) {
				return deleted, fmt.Errorf("deleting %s %s: %w", gvk.Kind, item.GetName(), err)
			}
			a.verified.forget(gvk, item.GetNamespace(), item.GetName())
			a.Writes.forget(gvk, item.GetNamespace(), item.GetName())
			deleted = append(deleted, gvk.Kind+"/"+item.GetName())
		}
	}
	return deleted, nil
}

// ProfileIndexValue indexes a child by the profile its labels name ("namespace/name"), for
// Applier.ProfileIndex. Objects that are not the operator's are not indexed.
func ProfileIndexValue(obj client.Object) []string {
	l := obj.GetLabels()
	if l[render.ManagedByLabel] != render.ManagedByValue || l[render.ProfileLabel] == "" || l[render.ProfileNamespaceLabel] == "" {
		return nil
	}
	return []string{l[render.ProfileNamespaceLabel] + "/" + l[render.ProfileLabel]}
}

// newList is an empty list of the kind, typed or unstructured like newObject.
func (a *Applier) newList(gvk schema.GroupVersionKind) (client.ObjectList, error) {
	listKind := gvk.GroupVersion().WithKind(gvk.Kind + "List")
	o, err := a.Client.Scheme().New(listKind)
	if runtime.IsNotRegisteredError(err) {
		u := &unstructured.UnstructuredList{}
		u.SetGroupVersionKind(listKind)
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	list, ok := o.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%s is not a list", listKind.Kind)
	}
	return list, nil
}
