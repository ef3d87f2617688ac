package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/compliance"
	"github.com/reliability-operator/reliability-operator/internal/observe"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/slo"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

// retryInterval is how soon a profile with a conflicting or failed child is looked at again. A foreign
// object is outside the operator's cache, so its removal sends no event.
const retryInterval = time.Minute

// +kubebuilder:rbac:groups=reliability.dev,resources=reliabilityprofiles,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=reliability.dev,resources=reliabilityprofiles/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=reliability.dev,resources=reliabilitypolicies,verbs=get;list;watch
// Children carry blockOwnerDeletion, which the OwnerReferencesPermissionEnforcement admission plugin
// (on in OpenShift) only allows to those who may update the owner's finalizers.
// +kubebuilder:rbac:groups=reliability.dev,resources=reliabilityprofiles/finalizers,verbs=update
// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=servicemonitors;prometheusrules,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=grafana.integreatly.org,resources=grafanadashboards,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=velero.io,resources=schedules,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=logging.banzaicloud.io,resources=flows,verbs=get;list;watch;create;patch;delete
// The dashboards for Grafana's sidecar are ConfigMaps in the profiles' namespaces; the operator watches and
// prunes them there also while --dashboard-configmaps is off, to delete those an earlier run created.
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Reading CustomResourceDefinitions lets the operator manage a child kind whose API is installed after it
// started (ChildKindInstalled, called by internal/operator's watch), without a restart.
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch

// ReliabilityProfileReconciler turns a ReliabilityProfile into its children and reports on them.
type ReliabilityProfileReconciler struct {
	Client        client.Client
	Applier       *apply.Applier
	Recorder      events.EventRecorder
	RenderOptions render.Options
	// Now is the clock of status timestamps; tests may fix it.
	Now func() metav1.Time
	// Observations, when the operator reads Prometheus (--prometheus-url), are the last SLO values and
	// rule-loading state of each profile; ObservationEvents names the profiles whose observation changed.
	Observations      Observations
	ObservationEvents <-chan event.GenericEvent
	// LogBackend says how log retention is enforced; nil when no backend is configured.
	LogBackend *LogBackend
	// SpotPlacement, when the operator runs with --spot-placement, reports where the profile's pods run.
	SpotPlacement *SpotPlacement
	// Policies reads the cluster's ReliabilityPolicy (the cache); nil when its CRD is not installed, so
	// that no reconcile asks for a kind the cluster does not serve.
	Policies client.Reader
	// GatewayRoutes are the Gateway API route kinds (of compliance.RouteTypes) the cluster serves, which S-2
	// reads and the controller watches; none when the Gateway API is not installed. Their cache must be
	// indexed by RouteServiceNamespaceIndex.
	GatewayRoutes []client.Object
	// MaxConcurrentReconciles is how many profiles are reconciled at once; 0 for controller-runtime's one.
	// What the reconciler keeps across reconciles (the last verdicts, the exported metrics, the applier's
	// verified children, the audit log) is safe for concurrent use and keyed by profile, and the work queue
	// never hands one profile to two workers.
	MaxConcurrentReconciles int
	// Shards, with --shards N > 1, are the namespaces this replica reconciles now; nil reconciles all.
	// ShardEvents names the profiles of each shard this replica acquires.
	Shards      ShardFilter
	ShardEvents <-chan event.GenericEvent

	// watchChild and installed serve ChildKindInstalled: the watch of a child kind added after start-up, and
	// the reconciles of every profile it asks for.
	watchChild func(context.Context, client.Object) error
	installed  chan event.GenericEvent
}

// LogBackend is the configured log retention backend, as the profile status reports it.
type LogBackend struct {
	Name string // such as "loki (ConfigMap loki/retention)"
	// State is Loki's aggregated ConfigMap; nil for logging-operator, whose Flow is a child of the profile.
	State *LogRetentionState
}

// Observations gives the last observation of a profile.
type Observations interface {
	For(key client.ObjectKey) (observe.Observation, bool)
}

// Reconcile fetches, renders, applies, and writes the status once if it changed.
func (r *ReliabilityProfileReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	logger := log.FromContext(ctx)
	if !r.reconcilesNamespace(req.Namespace) {
		return ctrl.Result{}, nil // another replica's shard (controllers/shard.go)
	}
	rp := &v1alpha1.ReliabilityProfile{}
	if err := r.Client.Get(ctx, req.NamespacedName, rp); err != nil {
		if apierrors.IsNotFound(err) {
			forgetPlacementMetrics(req.NamespacedName)
			forgetUndecodable(req.NamespacedName)
			forgetCompliance(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !rp.DeletionTimestamp.IsZero() {
		// Also for a profile whose spec cannot be read: deleting its children needs only its identity.
		return ctrl.Result{}, r.cleanUp(ctx, rp)
	}
	if decodeErr := asDecodeError(rp); decodeErr != nil {
		if done, err := r.handleUndecodable(ctx, rp, decodeErr); done || err != nil {
			return ctrl.Result{}, err
		}
	}
	forgetUndecodable(req.NamespacedName)

	// What the profile gets under the cluster's policy, computed once: every step below reads it. live is
	// the stored profile, whose metadata the finalizer patch writes.
	live := rp
	pol, err := policy.Get(ctx, r.Policies)
	if err != nil {
		return ctrl.Result{}, err
	}
	eff := policy.Apply(live, pol, r.RenderOptions)
	rp, opts := eff.Profile, eff.Render

	// Only the namespace's profiles of the same service, from the cache's index: what a reconcile reads does
	// not grow with the namespace.
	others := &v1alpha1.ReliabilityProfileList{}
	if err := r.Client.List(ctx, others, client.InNamespace(rp.Namespace), client.MatchingFields{ProfileServiceIndex: rp.Spec.Service},
		client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, err
	}
	var desired []client.Object
	renderErr := duplicateService(rp, others.Items)
	if renderErr == nil {
		desired, renderErr = render.Render(rp, opts)
	}
	if !r.reconcilesNamespace(req.Namespace) {
		return ctrl.Result{}, nil // the shard was lost meanwhile: its new holder writes
	}
	// Children in another namespace have no owner reference for the garbage collector; a finalizer lets the
	// operator delete them with the profile. Only profiles that have such children carry it.
	if rp.Spec.Mode != v1alpha1.ModeAudit && apply.OutsideNamespace(rp, desired) && !controllerutil.ContainsFinalizer(rp, CleanupFinalizer) {
		if err := r.patchFinalizers(ctx, live, func() { controllerutil.AddFinalizer(live, CleanupFinalizer) }); err != nil {
			return ctrl.Result{}, fmt.Errorf("adding the cleanup finalizer: %w", err)
		}
		rp.ObjectMeta = *live.ObjectMeta.DeepCopy()
	}
	before := rp.DeepCopy()
	kinds := childKinds()
	var unrendered []apply.Result
	var partial *render.PartialError
	if errors.As(renderErr, &partial) {
		// The other children are applied; those that could not be rendered keep their last good versions.
		for _, f := range partial.Failures {
			kinds = slices.DeleteFunc(kinds, func(k schema.GroupVersionKind) bool { return k == f.Kind })
			unrendered = append(unrendered, unrenderedResult(f))
		}
		renderErr = nil
	}
	var duplicate *DuplicateServiceError
	if errors.As(renderErr, &duplicate) {
		// A refused profile keeps nothing: its children would collide with the older profile's.
		if _, err := r.Applier.Prune(ctx, rp, nil, kinds); err != nil {
			return ctrl.Result{}, err
		}
	}
	var results []apply.Result
	var pruneErr error
	if renderErr == nil {
		results = append(r.Applier.Apply(ctx, rp, desired), unrendered...)
		var pruned []string
		pruned, pruneErr = r.Applier.Prune(ctx, rp, desired, kinds)
		for _, p := range pruned {
			logger.Info("Deleted child the profile no longer renders", "child", p)
			r.Recorder.Eventf(rp, nil, corev1.EventTypeNormal, "Pruned", "Delete", "Deleted %s: the profile no longer renders it.", p)
		}
	}
	for _, res := range results {
		if res.Retry {
			// A child changed between reading and writing it; its state is unknown until the next look.
			logger.Info("Child changed while being applied; retrying", "kind", res.Kind, "name", res.Name)
			return ctrl.Result{RequeueAfter: time.Second}, pruneErr
		}
		if res.Wrote {
			logger.Info("Applied child", "kind", res.Kind, "name", res.Name, "drift", res.Drift)
		}
	}

	setStatus(rp, renderErr, results, r.now())
	setDisasterRecoveryStatus(rp, opts.VeleroNamespace != "")
	setLogsStatus(rp, r.LogBackend, results)
	var scrape *compliance.Scrape
	if r.Observations != nil {
		if obs, ok := r.Observations.For(req.NamespacedName); ok {
			setObservedStatus(rp, obs)
			scrape = scrapeOf(obs)
		}
	}
	var audits []webhook.AuditRecord
	if r.SpotPlacement != nil {
		policy, err := placement.PolicyOf(rp)
		if err != nil {
			// Only a profile stored under an older CRD gets here; the webhook admits its pods unchanged.
			setInvalidPlacementStatus(rp, err, r.now())
		} else {
			obs, err := r.observePlacement(ctx, rp, policy)
			if err != nil {
				return ctrl.Result{}, fmt.Errorf("observing placement: %w", err)
			}
			if r.SpotPlacement.Audits != nil {
				audits = r.SpotPlacement.Audits.Take(req.NamespacedName)
			}
			setPlacementStatus(rp, policy, obs, audits, r.now())
		}
	} else {
		// Spot placement was turned off: what it reported is no longer observed.
		rp.Status.Placement = nil
		meta.RemoveStatusCondition(&rp.Status.Conditions, v1alpha1.SpotWithinLimitCondition)
	}
	// The verdicts read the status set above (children, logs, placement).
	pdb, err := r.livePDB(ctx, rp)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the PodDisruptionBudget: %w", err)
	}
	inventory, err := r.gatherCluster(ctx, rp)
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading the namespace's Services, Ingresses, Gateway API routes and workloads: %w", err)
	}
	judged := compliance.Snapshot{Profile: rp, PDB: pdb, Cluster: inventory, Scrape: scrape, MinObjective: eff.MinObjective, Now: r.now().Time}
	setComplianceStatus(rp, compliance.Evaluate(judged), r.now())
	if !r.reconcilesNamespace(req.Namespace) {
		return ctrl.Result{}, nil
	}
	r.recordEvents(before, rp, results, opts.VeleroNamespace)
	r.recordAuditEvents(rp, audits)
	r.recordComplianceEvents(before, rp)
	if !equality.Semantic.DeepEqual(before.Status, rp.Status) {
		if err := r.Client.Status().Patch(ctx, rp, client.MergeFrom(before)); err != nil {
			return ctrl.Result{}, fmt.Errorf("writing status: %w", err)
		}
	}
	if pruneErr != nil {
		return ctrl.Result{}, pruneErr
	}
	requeue := requeueForCompliance(judged)
	if meta.IsStatusConditionTrue(rp.Status.Conditions, v1alpha1.DegradedCondition) && (requeue == 0 || requeue > retryInterval) {
		requeue = retryInterval
	}
	return ctrl.Result{RequeueAfter: requeue}, nil
}

// recordEvents emits an Event for each drift found, for each child that newly entered Conflict or Failed,
// and in Audit mode for each child that newly needs a change the operator did not make. Persisting states emit nothing again, so that an unchanged profile costs no writes.
func (r *ReliabilityProfileReconciler) recordEvents(before, after *v1alpha1.ReliabilityProfile, results []apply.Result, veleroNamespace string) {
	for _, res := range results {
		prev := findChild(before.Status.Resources, res.Kind, res.Name)
		newState := prev == nil || prev.State != res.State
		switch {
		case res.Drift && res.State == v1alpha1.ChildInSync:
			r.Recorder.Eventf(after, childRef(after, res, veleroNamespace), corev1.EventTypeWarning, v1alpha1.DriftCorrectedReason, "Restore",
				"%s %s: %s", res.Kind, res.Name, res.Message)
		case res.State == v1alpha1.ChildDrifted && res.Drift && newState:
			r.Recorder.Eventf(after, childRef(after, res, veleroNamespace), corev1.EventTypeWarning, v1alpha1.DriftDetectedReason, "Compare",
				"%s %s: %s", res.Kind, res.Name, res.Message)
		case (res.State == v1alpha1.ChildDrifted || res.State == v1alpha1.ChildMissing) && newState:
			r.Recorder.Eventf(after, childRef(after, res, veleroNamespace), corev1.EventTypeNormal, v1alpha1.AuditOnlyReason, "Compare",
				"%s %s: %s", res.Kind, res.Name, res.Message)
		case (res.State == v1alpha1.ChildConflict || res.State == v1alpha1.ChildFailed) && newState:
			r.Recorder.Eventf(after, childRef(after, res, veleroNamespace), corev1.EventTypeWarning, res.Reason, "Apply",
				"%s %s: %s", res.Kind, res.Name, res.Message)
		}
	}
}

// childRef names the child an Event is about, as its related object. The recorder merges Events of the same
// reason, action and regarding object into one series that keeps the first note: without it, two children
// drifting in one reconcile would read as one.
func childRef(rp *v1alpha1.ReliabilityProfile, res apply.Result, veleroNamespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(res.APIVersion)
	u.SetKind(res.Kind)
	u.SetName(res.Name)
	u.SetNamespace(rp.Namespace)
	if render.LivesOutsideProfileNamespace(u.GroupVersionKind()) {
		u.SetNamespace(veleroNamespace)
	}
	return u
}

// ProfileServiceIndex indexes the cached profiles by the service they declare (ProfileService).
const ProfileServiceIndex = "reliability.dev/service"

// ProfileService is the value of ProfileServiceIndex: the stored service, also of a profile whose spec cannot
// be read (see duplicateService).
func ProfileService(obj client.Object) []string {
	rp, ok := obj.(*v1alpha1.ReliabilityProfile)
	if !ok {
		return nil
	}
	return []string{storedService(rp)}
}

// ChildProfileIndex indexes the cached children by their profile (apply.ProfileIndexValue).
const ChildProfileIndex = "reliability.dev/profile"

// DuplicateServiceError says that an older profile of the namespace declares the same service.
type DuplicateServiceError struct{ Service, Profile string }

func (e *DuplicateServiceError) Error() string {
	return fmt.Sprintf("spec.service: %q is already declared by the older profile %s in this namespace; its series and "+
		"alerts would collide with this profile's, so this profile renders nothing (one profile per service)", e.Service, e.Profile)
}

// duplicateService refuses a profile when an older one (by creation time, then name) in the same namespace
// declares the same service: both would write the same series. An older profile whose spec cannot be read
// keeps its claim: its children, kept as they are, still write its service's series.
func duplicateService(rp *v1alpha1.ReliabilityProfile, namespace []v1alpha1.ReliabilityProfile) error {
	for i := range namespace {
		o := &namespace[i]
		if o.UID == rp.UID || storedService(o) != rp.Spec.Service || !o.DeletionTimestamp.IsZero() {
			continue
		}
		older := o.CreationTimestamp.Before(&rp.CreationTimestamp) ||
			(o.CreationTimestamp.Equal(&rp.CreationTimestamp) && o.Name < rp.Name)
		if older {
			return &DuplicateServiceError{Service: rp.Spec.Service, Profile: o.Name}
		}
	}
	return nil
}

// CleanupFinalizer holds a profile that has children outside its namespace until they are deleted.
const CleanupFinalizer = "reliability.dev/cleanup"

// cleanUp deletes the children of a profile being deleted, then releases it.
func (r *ReliabilityProfileReconciler) cleanUp(ctx context.Context, rp *v1alpha1.ReliabilityProfile) error {
	if !controllerutil.ContainsFinalizer(rp, CleanupFinalizer) {
		return nil // children in the namespace go with it through their owner references
	}
	deleted, err := r.Applier.Cleanup(ctx, rp, childKinds())
	for _, d := range deleted {
		log.FromContext(ctx).Info("Deleted child of a deleted profile", "child", d)
	}
	if err != nil {
		return err
	}
	return r.patchFinalizers(ctx, rp, func() { controllerutil.RemoveFinalizer(rp, CleanupFinalizer) })
}

// patchFinalizers writes a change of the profile's finalizers. With an optimistic lock: a merge patch replaces
// the whole list, and must not drop a finalizer someone else added meanwhile.
func (r *ReliabilityProfileReconciler) patchFinalizers(ctx context.Context, rp *v1alpha1.ReliabilityProfile, change func()) error {
	orig := rp.DeepCopy()
	change()
	return r.Client.Patch(ctx, rp, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{}))
}

// unrenderedResult reports a child the profile could not be turned into.
func unrenderedResult(f render.Failure) apply.Result {
	reason := v1alpha1.RenderFailedReason
	var invalid *slo.InvalidQueryError
	if errors.As(f.Err, &invalid) {
		reason = v1alpha1.InvalidQueryReason
	}
	return apply.Result{
		APIVersion: f.Kind.GroupVersion().String(), Kind: f.Kind.Kind, Name: f.Name,
		State: v1alpha1.ChildFailed, Reason: reason,
		Message: f.Err.Error() + "; the " + f.Kind.Kind + " is left as it is (the last good one, if there is one).",
	}
}

func (r *ReliabilityProfileReconciler) now() metav1.Time {
	if r.Now != nil {
		return r.Now()
	}
	return metav1.Now()
}

func childKinds() []schema.GroupVersionKind {
	var kinds []schema.GroupVersionKind
	for _, o := range render.ChildTypes() {
		kinds = append(kinds, o.GetObjectKind().GroupVersionKind())
	}
	return kinds
}

// profileOfLabels maps a child outside the profile's namespace back to its profile.
func profileOfLabels(_ context.Context, obj client.Object) []reconcile.Request {
	l := obj.GetLabels()
	if l[render.ProfileLabel] == "" || l[render.ProfileNamespaceLabel] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: l[render.ProfileNamespaceLabel], Name: l[render.ProfileLabel]}}}
}

// allProfiles enqueues every profile of the cluster, from the cache.
func (r *ReliabilityProfileReconciler) allProfiles(ctx context.Context, _ client.Object) []reconcile.Request {
	out, err := r.profileRequests(ctx)
	if err != nil {
		log.FromContext(ctx).Error(err, "Listing the profiles to reconcile after a policy change failed")
	}
	return out
}

// specOrMetadata passes the changes of an object's spec, labels or annotations. Status writes do not change
// the generation; reacting to them would only re-read what was just written.
var specOrMetadata = predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{},
	predicate.AnnotationChangedPredicate{})

// notOwnWrite drops the create and update events of the operator's own writes of a child of the kind
// (apply.OwnWrites): the reconcile that wrote it has already reported on it. Deletes always pass.
func (r *ReliabilityProfileReconciler) notOwnWrite(gvk schema.GroupVersionKind) predicate.Predicate {
	own := func(o client.Object) bool {
		return r.Applier.Writes.IsOwn(gvk, o.GetNamespace(), o.GetName(), o.GetResourceVersion())
	}
	return predicate.Funcs{
		CreateFunc: func(e event.CreateEvent) bool { return !own(e.Object) },
		UpdateFunc: func(e event.UpdateEvent) bool { return !own(e.ObjectNew) },
	}
}

// configMapDataChanged passes updates of a ConfigMap's data, such as a hand edit of a dashboard ConfigMap.
var configMapDataChanged = predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
	o, okOld := e.ObjectOld.(*corev1.ConfigMap)
	n, okNew := e.ObjectNew.(*corev1.ConfigMap)
	return okOld && okNew && !(equality.Semantic.DeepEqual(o.Data, n.Data) && equality.Semantic.DeepEqual(o.BinaryData, n.BinaryData))
}}

// SetupWithManager watches profiles and their children of the given kinds: those the cluster serves.
func (r *ReliabilityProfileReconciler) SetupWithManager(mgr ctrl.Manager, childTypes []client.Object) error {
	r.installed = make(chan event.GenericEvent)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("reliabilityprofile").
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrentReconciles}).
		For(&v1alpha1.ReliabilityProfile{}, builder.WithPredicates(specOrMetadata))
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.ReliabilityProfile{}, ProfileServiceIndex, ProfileService); err != nil {
		return fmt.Errorf("indexing the profiles by service: %w", err)
	}
	var kinds []schema.GroupVersionKind
	for _, child := range childTypes {
		kinds = append(kinds, child.GetObjectKind().GroupVersionKind())
	}
	r.Applier.ProfileIndex = ChildProfileIndex
	if r.Applier.InstalledKinds == nil {
		r.Applier.InstalledKinds = apply.NewKindSet(kinds...)
	}
	// What S-2 and S-3 read; the cache keeps only the fields they need (internal/operator).
	byNamespace := handler.EnqueueRequestsFromMapFunc(r.profilesOfNamespace)
	b = b.Watches(&corev1.Service{}, byNamespace, builder.WithPredicates(serviceExposureChanged)).
		Watches(&networkingv1.Ingress{}, byNamespace, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&appsv1.Deployment{}, byNamespace, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&appsv1.StatefulSet{}, byNamespace, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&appsv1.DaemonSet{}, byNamespace, builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	if r.Policies != nil {
		// A change of the policy may change every profile; each reconcile writes only what changed.
		b = b.Watches(&v1alpha1.ReliabilityPolicy{}, handler.EnqueueRequestsFromMapFunc(r.allProfiles),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	for _, route := range r.GatewayRoutes {
		b = b.Watches(route, handler.EnqueueRequestsFromMapFunc(r.profilesOfRouteBackends),
			builder.WithPredicates(predicate.GenerationChangedPredicate{}))
	}
	b = b.WatchesRawSource(source.Channel(r.installed, &handler.EnqueueRequestForObject{}))
	if r.ShardEvents != nil {
		b = b.WatchesRawSource(source.Channel(r.ShardEvents, &handler.EnqueueRequestForObject{}))
	}
	if r.ObservationEvents != nil {
		b = b.WatchesRawSource(source.Channel(r.ObservationEvents, &handler.EnqueueRequestForObject{}))
	}
	if r.LogBackend != nil && r.LogBackend.State != nil {
		b = b.WatchesRawSource(source.Channel(r.LogBackend.State.Changed, &handler.EnqueueRequestForObject{}))
	}
	if r.SpotPlacement != nil {
		b = b.Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(r.profilesOfPod), builder.WithPredicates(podPlacementChanged)).
			WatchesMetadata(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(r.profilesOfNode), builder.WithPredicates(predicate.LabelChangedPredicate{}))
		if r.SpotPlacement.Audits != nil {
			b = b.WatchesRawSource(source.Channel(r.SpotPlacement.Audits.Changed, &handler.EnqueueRequestForObject{}))
		}
	}
	ctrlr, err := b.Build(r)
	if err != nil {
		return err
	}
	r.watchChild = func(ctx context.Context, child client.Object) error {
		if err := mgr.GetFieldIndexer().IndexField(ctx, child, ChildProfileIndex, apply.ProfileIndexValue); err != nil {
			return fmt.Errorf("indexing the %s children by profile: %w", child.GetObjectKind().GroupVersionKind().Kind, err)
		}
		handler, predicates := r.childEvents(mgr, child)
		return ctrlr.Watch(source.Kind(mgr.GetCache(), child, handler, predicates...))
	}
	// The children served at start-up are watched as those installed later are; the controller starts
	// these watches with itself.
	for _, child := range childTypes {
		if err := r.watchChild(context.Background(), child); err != nil {
			return err
		}
	}
	return nil
}

// childEvents is how a child's events reach its profile, and which of them do.
func (r *ReliabilityProfileReconciler) childEvents(mgr ctrl.Manager, child client.Object) (handler.TypedEventHandler[client.Object, reconcile.Request], []predicate.Predicate) {
	gvk := child.GetObjectKind().GroupVersionKind()
	// Last: it holds the events of writes in flight, which only events that pass the others may be.
	own := r.notOwnWrite(gvk)
	if render.LivesOutsideProfileNamespace(gvk) {
		return handler.EnqueueRequestsFromMapFunc(profileOfLabels), []predicate.Predicate{specOrMetadata, own}
	}
	owner := handler.EnqueueRequestForOwner(mgr.GetScheme(), mgr.GetRESTMapper(), &v1alpha1.ReliabilityProfile{}, handler.OnlyControllerOwner())
	if _, ok := child.(*policyv1.PodDisruptionBudget); ok {
		// Its status, kept by the disruption controller, is what D-6 is judged on.
		return owner, []predicate.Predicate{predicate.Or(specOrMetadata, pdbStatusChanged), own}
	}
	if _, ok := child.(*corev1.ConfigMap); ok {
		// A ConfigMap has no generation: an edit of its data changes only its resourceVersion.
		return owner, []predicate.Predicate{predicate.Or(specOrMetadata, configMapDataChanged), own}
	}
	return owner, []predicate.Predicate{specOrMetadata, own}
}

// ChildKindInstalled starts managing the children of a kind whose API was installed after start-up (the
// operator's watch of CustomResourceDefinitions calls it): their informer, index and watch, then a
// reconcile of every profile, which creates them. It does nothing for a kind already managed.
func (r *ReliabilityProfileReconciler) ChildKindInstalled(ctx context.Context, child client.Object) error {
	gvk := child.GetObjectKind().GroupVersionKind()
	if r.Applier.InstalledKinds.Has(gvk) {
		return nil
	}
	if err := r.watchChild(ctx, child); err != nil {
		return err
	}
	r.Applier.InstalledKinds.Add(gvk)
	log.FromContext(ctx).Info("Managing a child kind whose API was installed", "kind", gvk.Kind, "apiVersion", gvk.GroupVersion().String())
	profiles, err := r.profileRequests(ctx)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		r.installed <- event.GenericEvent{Object: &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}}
	}
	return nil
}
