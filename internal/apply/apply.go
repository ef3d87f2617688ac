package apply

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

const (
	// FieldOwner is the server-side apply field manager of every write the operator makes.
	FieldOwner = "reliability-operator"

	// DesiredHashAnnotation holds a hash of what the operator last applied. When the live object differs
	// from the desired one, an unchanged hash means someone else changed the object (drift); a changed hash
	// means the profile changed, which is an ordinary update and not drift.
	DesiredHashAnnotation = "reliability.dev/desired-hash"

	// OwnerUIDAnnotation marks a child outside the profile's namespace as the profile's: an owner reference
	// cannot cross namespaces. The profile's finalizer deletes such children.
	OwnerUIDAnnotation = "reliability.dev/owner-uid"
)

// Result is what happened to one child.
type Result struct {
	APIVersion string
	Kind       string
	Name       string
	State      v1alpha1.ChildState
	// Reason is a condition reason for Conflict and Failed states.
	Reason  string
	Message string
	// Drift is true when someone other than the operator changed fields the operator sets.
	Drift bool
	// Wrote is true when the applier sent a write for this child.
	Wrote bool
	// Retry is true when the child changed between reading and writing it; the caller should try again
	// soon rather than report a state.
	Retry bool
	// Transient is true for a Failed child whose failure passes on its own (a timeout, an API server that is
	// busy or unavailable, a lost connection), as opposed to a refusal that needs someone to act.
	Transient bool
}

// Applier applies children with server-side apply.
type Applier struct {
	// Client reads from the cache, which holds only objects labelled as the operator's, and writes to the API
	// server.
	Client client.Client
	// APIReader reads past the cache. It is used when the cache has no object of a child's name, to find a
	// foreign object of that name before the operator could create over it.
	APIReader client.Reader

	// InstalledKinds, when set, are the child kinds the cluster serves (see KindSet); nil: the REST mapper is
	// asked.
	InstalledKinds *KindSet
	// ProfileIndex, when set, is the name of an index of the cache's children by ProfileIndexValue: Prune then
	// reads a profile's children from it, instead of filtering every child of the kind in the cluster by its
	// labels, which costs each reconcile more the more profiles there are. Empty: children are found by
	// their labels (a client without a cache).
	ProfileIndex string

	// Writes records the operator's own writes of children, for the watch that would otherwise answer each
	// of them with another reconcile of its profile (see OwnWrites). Safe to leave zero.
	Writes OwnWrites

	// verified remembers, per child, the resourceVersion and desired hash last found in sync, so that a
	// reconcile of an unchanged profile whose children nobody touched sends no request at all.
	verified verifiedCache
}

// Apply brings every desired child of the profile to its desired state, or in Audit mode only reports how
// far it is from it. Results come in the order of desired.
func (a *Applier) Apply(ctx context.Context, owner *v1alpha1.ReliabilityProfile, desired []client.Object) []Result {
	results := make([]Result, 0, len(desired))
	for _, obj := range desired {
		res := a.applyOne(ctx, owner, obj)
		if res.Wrote && a.Writes.Changed(obj.GetObjectKind().GroupVersionKind(), obj.GetNamespace(), obj.GetName()) {
			// Its watch event was held as the operator's (OwnWrites): the next look finds out what changed.
			res.Retry, res.Message = true, "Changed by someone else while being applied; retrying."
		}
		results = append(results, res)
	}
	return results
}

func (a *Applier) applyOne(ctx context.Context, owner *v1alpha1.ReliabilityProfile, obj client.Object) Result {
	gvk := obj.GetObjectKind().GroupVersionKind()
	res := Result{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind, Name: obj.GetName()}
	audit := owner.Spec.Mode == v1alpha1.ModeAudit

	if reason, err := a.kindInstalled(gvk); err != nil {
		res = res.failed(reason, err.Error())
		// A kind that is not installed waits for someone to install it; discovery that failed is retried.
		res.Transient = reason != v1alpha1.KindNotInstalledReason
		return res
	}
	desired, err := desiredManifest(owner, obj)
	if err != nil {
		return res.failed(v1alpha1.ApplyFailedReason, err.Error())
	}
	hash := desired.GetAnnotations()[DesiredHashAnnotation]
	key := client.ObjectKeyFromObject(desired)
	live, err := a.cached(ctx, gvk, key)
	switch {
	case apierrors.IsNotFound(err) && audit:
		// The cache holds only objects labelled as the operator's; Audit mode, which creates nothing, must
		// still tell a missing child from someone else's object of its name.
		if live, err = a.live(ctx, gvk, key); apierrors.IsNotFound(err) {
			res.State, res.Message = v1alpha1.ChildMissing, "Does not exist; Audit mode does not create it."
			return res
		}
	case apierrors.IsNotFound(err):
		created := desired.DeepCopy()
		if err = a.create(ctx, created); err == nil {
			a.verified.remember(gvk, created.GetNamespace(), created.GetName(), created.GetResourceVersion(), hash)
			res.State, res.Wrote, res.Message = v1alpha1.ChildInSync, true, "Created."
			return res
		}
		if !apierrors.IsConflict(err) {
			return res.failedBy(err, err.Error())
		}
		// An object of the child's name exists after all: someone else's, or the profile's own without the
		// labels the cache selects by. Only now is it read past the cache.
		if live, err = a.live(ctx, gvk, key); apierrors.IsNotFound(err) {
			res.State, res.Retry, res.Message = v1alpha1.ChildInSync, true, "Created and deleted by someone else meanwhile; retrying."
			return res
		}
	}
	if err != nil {
		return res.failedBy(err, fmt.Sprintf("Reading the live object failed: %v", err))
	}

	if !IsControlledBy(live, owner) {
		return res.foreign(live)
	}
	if OwnsThroughUpdate(live) {
		// Created by this profile through a plain create (an earlier version of the operator), whose
		// hand-over of the create's fields did not happen (see Create).
		// The hand-over rewrites every manager's field sets, which the cache does not keep: read them.
		full, err := a.live(ctx, gvk, key)
		if err == nil {
			err = a.tracked(gvk, full, func() error { return HandOverToApply(ctx, a.Client, full) })
			live = full
		}
		if err != nil {
			res.State, res.Retry, res.Message = v1alpha1.ChildInSync, true, err.Error()
			return res
		}
	}
	if a.verified.matches(gvk, live.GetNamespace(), live.GetName(), live.GetResourceVersion(), hash) {
		res.State = v1alpha1.ChildInSync
		return res
	}

	// Every apply below carries the resourceVersion whose ownership was just checked: if the object was
	// replaced in between (deleted, then recreated by someone else), the API server answers 409 instead of
	// letting the operator take it.
	desired.SetResourceVersion(live.GetResourceVersion())
	// A changed hash says the profile changed what the child holds: an update, which needs no dry run to
	// find out what someone else changed; one request. Audit mode, which writes nothing, still compares, to
	// say what differs.
	var what string
	if profileChanged := live.GetAnnotations()[DesiredHashAnnotation] != hash; !profileChanged || audit {
		path, differs, err := a.dryRunDifference(ctx, desired, live)
		if apierrors.IsConflict(err) {
			res.State, res.Retry, res.Message = v1alpha1.ChildInSync, true, "Changed while being compared; retrying."
			return res
		}
		if err != nil {
			return res.failedBy(err, err.Error())
		}
		if !differs {
			a.verified.remember(gvk, live.GetNamespace(), live.GetName(), live.GetResourceVersion(), hash)
			res.State = v1alpha1.ChildInSync
			return res
		}
		res.Drift = !profileChanged
		what = fmt.Sprintf("%s differs from the profile", path)
		if res.Drift {
			what = fmt.Sprintf("%s was changed by %s", path, changedBy(live))
		}
		if audit {
			res.State, res.Message = v1alpha1.ChildDrifted, what+"; Audit mode leaves it."
			return res
		}
	}
	if err := a.write(ctx, desired); apierrors.IsConflict(err) {
		res.State, res.Retry, res.Message = v1alpha1.ChildInSync, true, "Changed while being applied; retrying."
		return res
	} else if err != nil && res.Drift {
		return res.failedBy(err, fmt.Sprintf("%s; restoring it failed: %v", what, err))
	} else if err != nil {
		return res.failedBy(err, fmt.Sprintf("Updating it failed: %v", err))
	}
	a.verified.remember(gvk, desired.GetNamespace(), desired.GetName(), desired.GetResourceVersion(), hash)
	res.State, res.Wrote = v1alpha1.ChildInSync, true
	if res.Drift {
		res.Message = what + "; restored."
	} else {
		res.Message = "Updated."
	}
	return res
}

// dryRunDifference asks the API server what applying desired would store, and compares that with the live
// object. The server applies its own defaults and merge rules, so this finds every change to a field the
// operator sets (a selector widened inside an ingress rule included) and nothing else: labels and fields that
// other managers own survive the apply and are on both sides.
func (a *Applier) dryRunDifference(ctx context.Context, desired *unstructured.Unstructured, live client.Object) (string, bool, error) {
	after := desired.DeepCopy()
	if err := a.write(ctx, after, client.DryRunAll); err != nil {
		return "", false, err
	}
	afterMap, err := a.normalize(after)
	if err != nil {
		return "", false, err
	}
	liveMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
	if err != nil {
		return "", false, err
	}
	path, differs := FirstDifference(afterMap, liveMap)
	return path, differs, nil
}

// normalize passes an object through its typed form, so that it compares field for field with a live object
// read from the typed cache (same zero values, same number types).
func (a *Applier) normalize(u *unstructured.Unstructured) (map[string]any, error) {
	typed, err := a.newObject(u.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	if _, ok := typed.(*unstructured.Unstructured); ok {
		return u.Object, nil // both sides are the server's JSON already
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, typed); err != nil {
		return nil, err
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
}

// foreign reports an object of the child's name that the profile does not own.
func (r Result) foreign(live client.Object) Result {
	r.State, r.Reason = v1alpha1.ChildConflict, v1alpha1.ForeignObjectReason
	r.Message = fmt.Sprintf("A %s named %q exists and is not owned by this profile%s; it was left untouched. "+
		"Delete or rename it to let the operator manage it.", r.Kind, r.Name, managersSuffix(live))
	return r
}

func (r Result) failed(reason, message string) Result {
	r.State, r.Reason, r.Message = v1alpha1.ChildFailed, reason, message
	return r
}

// failedBy is failed for an error of a request: whether it passes on its own is the error's to say.
func (r Result) failedBy(err error, message string) Result {
	r = r.failed(v1alpha1.ApplyFailedReason, message)
	r.Transient = Transient(err)
	return r
}

// Transient tells whether a request's error passes on its own, so that retrying is all it takes: anything
// but the API server's refusals (4xx answers other than a timeout, a conflict or throttling), which need
// someone to change the object, the cluster's policies or the operator's permissions.
func Transient(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // no answer: a connection lost, a deadline, discovery not yet available
	}
	code := status.Status().Code
	switch {
	case code == http.StatusRequestTimeout || code == http.StatusConflict || code == http.StatusTooManyRequests:
		return true
	case code >= 400 && code < 500:
		return false
	}
	return true
}

// kindInstalled tells whether the API server serves the kind. A cluster without prometheus-operator has no
// ServiceMonitor CRD; that child fails with a clear reason while the others are still applied.
func (a *Applier) kindInstalled(gvk schema.GroupVersionKind) (string, error) {
	if a.InstalledKinds != nil {
		if a.InstalledKinds.Has(gvk) {
			return "", nil
		}
		return v1alpha1.KindNotInstalledReason, fmt.Errorf("The %s API (%s) is not installed in the cluster.", gvk.Kind, gvk.GroupVersion())
	}
	_, err := a.Client.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		return v1alpha1.KindNotInstalledReason, fmt.Errorf("The %s API (%s) is not installed in the cluster.", gvk.Kind, gvk.GroupVersion())
	}
	if err != nil {
		return v1alpha1.ApplyFailedReason, err
	}
	return "", nil
}

// cached reads the child from the cache, which holds only objects labelled as the operator's.
func (a *Applier) cached(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (client.Object, error) {
	return a.read(ctx, a.Client, gvk, key)
}

// live reads the child past the cache: an object of its name that is not labelled as the operator's.
func (a *Applier) live(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (client.Object, error) {
	return a.read(ctx, a.APIReader, gvk, key)
}

func (a *Applier) read(ctx context.Context, r client.Reader, gvk schema.GroupVersionKind, key client.ObjectKey) (client.Object, error) {
	live, err := a.newObject(gvk)
	if err != nil {
		return nil, err
	}
	err = r.Get(ctx, key, live)
	// Typed objects from the API reader come without apiVersion and kind; set them so that both readers
	// give the same object.
	live.GetObjectKind().SetGroupVersionKind(gvk)
	return live, err
}

// newObject is an empty object of the kind: typed when the scheme knows it, unstructured otherwise (kinds
// whose Go types do not build with ours, such as logging-operator's).
func (a *Applier) newObject(gvk schema.GroupVersionKind) (client.Object, error) {
	o, err := a.Client.Scheme().New(gvk)
	if runtime.IsNotRegisteredError(err) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		return u, nil
	}
	if err != nil {
		return nil, err
	}
	obj, ok := o.(client.Object)
	if !ok {
		return nil, fmt.Errorf("%s is not a client.Object", gvk)
	}
	return obj, nil
}

// write applies desired; a real write (not a dry run) is tracked (see tracked).
func (a *Applier) write(ctx context.Context, desired *unstructured.Unstructured, opts ...client.ApplyOption) error {
	if slices.ContainsFunc(opts, func(o client.ApplyOption) bool { return o == client.DryRunAll }) {
		return ServerSideApply(ctx, a.Client, desired, opts...)
	}
	return a.tracked(desired.GroupVersionKind(), desired, func() error { return ServerSideApply(ctx, a.Client, desired, opts...) })
}

// create makes a child the cache does not have, in one request (see CreateByApply).
func (a *Applier) create(ctx context.Context, desired *unstructured.Unstructured) error {
	return a.tracked(desired.GroupVersionKind(), desired, func() error { return CreateByApply(ctx, a.Client, desired) })
}

// tracked sends a write of obj, which the request updates with the server's answer, recorded in the
// applier's own writes, so that the watch event it causes is known as the operator's.
func (a *Applier) tracked(gvk schema.GroupVersionKind, obj client.Object, send func() error) error {
	done := a.Writes.begin(gvk, obj.GetNamespace(), obj.GetName())
	err := send()
	done(err, obj.GetResourceVersion())
	return err
}

// ServerSideApply applies an object as the operator's one field manager, taking over fields another manager
// changed, and updates the object with the server's answer. Every write to an object that exists goes through
// it; an object that does not exist yet is made by Create, never by an apply (which would take an object of
// the same name that someone created in between).
func ServerSideApply(ctx context.Context, c client.Client, obj *unstructured.Unstructured, opts ...client.ApplyOption) error {
	opts = append([]client.ApplyOption{client.FieldOwner(FieldOwner), client.ForceOwnership}, opts...)
	return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(obj), opts...)
}

// desiredManifest is the rendered child plus what makes it the profile's: the controller owner reference
// (garbage collection, and the watch that maps child events back to the profile) and the hash of its
// content.
func desiredManifest(owner *v1alpha1.ReliabilityProfile, obj client.Object) (*unstructured.Unstructured, error) {
	u, err := render.Manifest(obj)
	if err != nil {
		return nil, err
	}
	hash, err := DesiredHash(u.Object)
	if err != nil {
		return nil, err
	}
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[DesiredHashAnnotation] = hash
	if u.GetNamespace() != owner.Namespace {
		annotations[OwnerUIDAnnotation] = string(owner.UID)
		u.SetAnnotations(annotations)
		return u, nil
	}
	u.SetAnnotations(annotations)
	u.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion:         v1alpha1.GroupVersion.String(),
		Kind:               "ReliabilityProfile",
		Name:               owner.Name,
		UID:                owner.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}})
	return u, nil
}

// DesiredHash is the value of DesiredHashAnnotation for a rendered manifest (render.Manifest): a hash of its
// JSON, whose keys encoding/json sorts. The CLI's render test compares it with the annotation of live
// children, to prove that the operator applied exactly what `render` prints.
func DesiredHash(manifest map[string]any) (string, error) {
	content, err := json.Marshal(manifest)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:8]), nil
}

// IsControlledBy tells whether the profile owns obj: by its controller owner reference in the profile's
// namespace, by the owner-UID annotation elsewhere.
func IsControlledBy(obj client.Object, owner *v1alpha1.ReliabilityProfile) bool {
	if owner.UID == "" {
		return false
	}
	if obj.GetNamespace() != owner.Namespace {
		return obj.GetAnnotations()[OwnerUIDAnnotation] == string(owner.UID)
	}
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == owner.UID
}

// OutsideNamespace tells whether any desired child lives outside the profile's namespace, so that the
// profile needs the cleanup finalizer.
func OutsideNamespace(owner *v1alpha1.ReliabilityProfile, desired []client.Object) bool {
	for _, o := range desired {
		if o.GetNamespace() != owner.Namespace {
			return true
		}
	}
	return false
}

// changedBy names the field managers that wrote to the object since the operator's last apply, most recent
// first, so that a drift report says who made the change ("kubectl-edit", "argocd-controller"...).
// Managed-field times have one-second resolution, so a write in the same second counts.
func changedBy(obj client.Object) string {
	entries := obj.GetManagedFields()
	var ours *metav1.Time
	for _, e := range entries {
		if e.Manager == FieldOwner && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
			ours = e.Time
		}
	}
	var others []metav1.ManagedFieldsEntry
	for _, e := range entries {
		if e.Manager != FieldOwner && e.Subresource == "" && (ours == nil || e.Time == nil || !e.Time.Before(ours)) {
			others = append(others, e)
		}
	}
	sort.SliceStable(others, func(i, j int) bool {
		return others[i].Time != nil && others[j].Time != nil && others[j].Time.Before(others[i].Time)
	})
	var names []string
	for _, e := range others {
		if !slices.Contains(names, e.Manager) {
			names = append(names, e.Manager)
		}
	}
	if len(names) == 0 {
		return "another client"
	}
	return strings.Join(names, ", ")
}

func managersSuffix(obj client.Object) string {
	var names []string
	for _, e := range obj.GetManagedFields() {
		if e.Subresource == "" && !slices.Contains(names, e.Manager) {
			names = append(names, e.Manager)
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " (managed by " + strings.Join(names, ", ") + ")"
}
