package apply

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// absentResourceVersion is the precondition of CreateByApply: a resourceVersion that no object of a child's
// name can have. etcd's revision 1 is the cluster's very first write, made before any namespace a child could
// live in existed.
const absentResourceVersion = "1"

// CreateByApply makes an object that the cache does not have, with one server-side apply that carries a
// resourceVersion precondition no existing object can meet (absentResourceVersion). The API server creates a
// missing object on an apply, the precondition then having nothing to compare with, and refuses an apply to
// an object that exists with a 409 Conflict: an object of that name that someone else made is never taken,
// and none is read before the create. The fields belong to the Apply entry of the operator's field manager
// from the start, so later applies remove what they leave out. TestCreateByApply pins this behaviour of the
// API server. obj is updated with the server's answer.
func CreateByApply(ctx context.Context, c client.Client, obj *unstructured.Unstructured) error {
	obj.SetResourceVersion(absentResourceVersion)
	return ServerSideApply(ctx, c, obj)
}

// Create makes an object that the operator has just found missing. It is a plain create, which the API server
// refuses with AlreadyExists when anyone created an object of that name after the operator read: a server-side
// apply has no such precondition and would write over that object, taking it (its spec replaced, the owner
// reference added). The caller treats AlreadyExists as "someone else's" until it has read the object again.
//
// A create records the fields it set under an Update entry of the field manager, not under its Apply entry:
// for server-side apply that is a different manager, and fields it owns are never removed when a later
// apply leaves them out (a PodDisruptionBudget moved from minAvailable to maxUnavailable would keep both and
// be refused). So Create then hands those fields to the Apply entry, as kubectl does when it moves an object
// from client-side to server-side apply, and from then on the object is the Apply entry's alone. The
// hand-over carries the resourceVersion of the create, so it changes nothing if the object changed since;
// an object whose hand-over failed is handed over at its next apply (see OwnsThroughUpdate).
func Create(ctx context.Context, c client.Client, obj client.Object) error {
	if err := c.Create(ctx, obj, client.FieldOwner(FieldOwner)); err != nil {
		return err
	}
	if err := HandOverToApply(ctx, c, obj); err != nil {
		return &HandOverError{Err: err}
	}
	return nil
}

// HandOverError says that Create created the object but could not hand its fields to the Apply entry yet.
type HandOverError struct{ Err error }

func (e *HandOverError) Error() string {
	return fmt.Sprintf("Created; handing its fields over to server-side apply failed: %v", e.Err)
}

func (e *HandOverError) Unwrap() error { return e.Err }

// HandOverToApply moves the fields that the operator's field manager owns through Update entries (those of a
// create) to its Apply entry, with a JSON patch of the managed fields that carries obj's resourceVersion.
// Rewriting managedFields alone records no new entry. It sends nothing when there is nothing to move, and
// updates obj with the server's answer.
func HandOverToApply(ctx context.Context, c client.Client, obj client.Object) error {
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(obj, sets.New(FieldOwner), FieldOwner)
	if err != nil || patch == nil {
		return err
	}
	return c.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, patch), client.FieldOwner(FieldOwner))
}

// OwnsThroughUpdate tells whether the operator's field manager owns fields of obj through an Update entry:
// a create whose hand-over to the Apply entry has not happened.
func OwnsThroughUpdate(obj client.Object) bool {
	for _, e := range obj.GetManagedFields() {
		if e.Manager == FieldOwner && e.Operation == metav1.ManagedFieldsOperationUpdate && e.Subresource == "" {
			return true
		}
	}
	return false
}
