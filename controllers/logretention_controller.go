package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/logs"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// LogRetentionReconciler keeps one operator-owned ConfigMap holding Loki's runtime overrides: a
// retention_stream entry per profile (O-5). The ConfigMap aggregates every profile, so it has its own
// reconciler with a single key: each run rebuilds the whole file from the current list of profiles, and runs
// never overlap, so concurrent profile changes cannot lose an entry. A pre-existing ConfigMap of that name
// that the operator does not own is never overwritten; the profiles report it.
type LogRetentionReconciler struct {
	Client    client.Client
	APIReader client.Reader
	ConfigMap types.NamespacedName
	Tenant    string
	State     *LogRetentionState
	// Policies reads the cluster's ReliabilityPolicy, whose tier retention applies to profiles that set
	// none; nil when its CRD is not installed.
	Policies client.Reader
	// Writes, when set (with --shards N > 1: the holder of shard 0), tells whether this replica writes the
	// ConfigMap now. Every replica runs the reconciler, since every replica's profiles report the outcome; a
	// replica that does not write compares the ConfigMap with what it would write, and looks again soon
	// while they differ (the writer may be gone, and this replica take over).
	Writes func() bool
}

// readOnlyRetry is how soon a replica that does not write the ConfigMap looks again at one that differs
// from what it would write.
const readOnlyRetry = 5 * time.Second

// LogRetentionState is the outcome of the last run, read by the profile reconciler for status.logs.
type LogRetentionState struct {
	mu sync.RWMutex
	// problem is why the retention is not enforced at all, or empty.
	problem string
	// written are the stream selectors of the ConfigMap as last written or found.
	written map[string]bool
	// Changed names a profile whenever the outcome changes, so that every profile's status follows.
	Changed chan event.GenericEvent
}

// NewLogRetentionState returns an empty state.
func NewLogRetentionState() *LogRetentionState {
	return &LogRetentionState{Changed: make(chan event.GenericEvent, 64)}
}

// Enforced tells whether the profile's retention is in Loki's overrides, and if not, why.
func (s *LogRetentionState) Enforced(rp *v1alpha1.ReliabilityProfile) (bool, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	switch {
	case s.problem != "":
		return false, s.problem
	case !s.written[logs.StreamSelector(rp)]:
		return false, "The retention is not in Loki's overrides yet."
	}
	return true, ""
}

func (s *LogRetentionState) set(ctx context.Context, c client.Reader, problem string, written map[string]bool) {
	s.mu.Lock()
	changed := s.problem != problem || !maps.Equal(s.written, written)
	s.problem, s.written = problem, written
	s.mu.Unlock()
	if !changed {
		return
	}
	list := &v1alpha1.ReliabilityProfileList{}
	if err := c.List(ctx, list); err != nil {
		return
	}
	for i := range list.Items {
		select {
		case s.Changed <- event.GenericEvent{Object: &list.Items[i]}:
		case <-ctx.Done():
			return
		}
	}
}

// enforceable are the profiles whose retention goes into Loki: not those in Audit mode (which change
// nothing), nor those refused for declaring another profile's service, nor those that cannot be read (their
// entries are held as they are, see heldRetention).
func enforceable(all []v1alpha1.ReliabilityProfile) []v1alpha1.ReliabilityProfile {
	var out []v1alpha1.ReliabilityProfile
	for i := range all {
		rp := &all[i]
		if rp.DecodeError() != nil || rp.Spec.Mode == v1alpha1.ModeAudit || duplicateService(rp, namespaceOf(all, rp.Namespace)) != nil {
			continue
		}
		out = append(out, *rp)
	}
	return out
}

func namespaceOf(all []v1alpha1.ReliabilityProfile, namespace string) []v1alpha1.ReliabilityProfile {
	var out []v1alpha1.ReliabilityProfile
	for _, rp := range all {
		if rp.Namespace == namespace {
			out = append(out, rp)
		}
	}
	return out
}

func selectors(profiles []v1alpha1.ReliabilityProfile) map[string]bool {
	out := map[string]bool{}
	for i := range profiles {
		if profiles[i].DeletionTimestamp.IsZero() {
			out[logs.StreamSelector(&profiles[i])] = true
		}
	}
	return out
}

// Reconcile rebuilds the overrides file from all profiles and writes it only when it changed.
func (r *LogRetentionReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	written, problem, requeue, err := r.reconcile(ctx)
	if err != nil {
		problem = fmt.Sprintf("Writing Loki's overrides to ConfigMap %s failed: %v", r.ConfigMap, err)
	}
	r.State.set(ctx, r.Client, problem, written)
	return ctrl.Result{RequeueAfter: requeue}, err
}

// reconcile returns the selectors now in the ConfigMap, or why there are none, and when to look again.
func (r *LogRetentionReconciler) reconcile(ctx context.Context) (map[string]bool, string, time.Duration, error) {
	list := &v1alpha1.ReliabilityProfileList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil, "", 0, err
	}
	profiles := enforceable(list.Items)
	pol, err := policy.Get(ctx, r.Policies)
	if err != nil {
		return nil, "", 0, err
	}
	if pol != nil { // without one, each profile is what it gets
		for i := range profiles {
			profiles[i] = *policy.Apply(&profiles[i], pol, render.Options{}).Profile
		}
	}
	held, err := r.heldRetention(ctx, list.Items)
	if err != nil {
		return nil, "", 0, err
	}
	content, err := logs.LokiOverrides(profiles, r.Tenant, held...)
	if err != nil {
		return nil, "", 0, err
	}
	desired := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: r.ConfigMap.Name, Namespace: r.ConfigMap.Namespace,
			Labels: map[string]string{render.ManagedByLabel: render.ManagedByValue}},
		Data: map[string]string{logs.RuntimeConfigKey: string(content)},
	}
	// A ConfigMap missing when read is created, not applied: the create fails if someone made one of that name
	// in between, and the second read then finds it and leaves it alone. One more read is enough; a name
	// that keeps appearing and vanishing is looked at again at the next run.
	for range 2 {
		live := &corev1.ConfigMap{}
		err = r.APIReader.Get(ctx, r.ConfigMap, live)
		switch {
		case apierrors.IsNotFound(err) && !r.writes():
			return nil, "", readOnlyRetry, nil
		case apierrors.IsNotFound(err):
			obj := desired.DeepCopy()
			err := apply.Create(ctx, r.Client, obj)
			if apierrors.IsAlreadyExists(err) {
				continue
			}
			var handOver *apply.HandOverError
			if errors.As(err, &handOver) {
				// Written, and the operator's: the next run finishes the hand-over.
				log.FromContext(ctx).Info("Created child; handing its fields over failed", "kind", "ConfigMap", "name", r.ConfigMap.String(), "error", err.Error())
				return selectors(profiles), "", time.Second, nil
			}
			if err != nil {
				return nil, "", 0, err
			}
			log.FromContext(ctx).Info("Created child", "kind", "ConfigMap", "name", r.ConfigMap.String(), "profiles", len(profiles))
			return selectors(profiles), "", 0, nil
		case err != nil:
			return nil, "", 0, err
		case live.Labels[render.ManagedByLabel] != render.ManagedByValue:
			// Outside the cache, its deletion sends no event: look again later.
			return nil, fmt.Sprintf("ConfigMap %s exists and is not owned by reliability-operator; it was left untouched, "+
				"so log retention is not enforced. Delete it or choose another --loki-retention-configmap.", r.ConfigMap), time.Minute, nil
		case live.Labels[render.ProfileLabel] != "":
			// The operator's, but a profile's child (its dashboard ConfigMap has that name): writing Loki's overrides
			// into it would take it from the profile.
			return nil, fmt.Sprintf("ConfigMap %s belongs to the ReliabilityProfile %s/%s; it was left untouched, so log retention "+
				"is not enforced. Choose another --loki-retention-configmap.", r.ConfigMap, live.Labels[render.ProfileNamespaceLabel],
				live.Labels[render.ProfileLabel]), time.Minute, nil
		}
		if !r.writes() {
			if live.Data[logs.RuntimeConfigKey] == string(content) {
				return selectors(profiles), "", 0, nil
			}
			// The writer has not caught up (or is gone): a profile's retention is enforced when the stored file
			// holds its entry as this replica would write it, and not for the others.
			enforced, err := enforcedIn(live.Data[logs.RuntimeConfigKey], string(content), r.Tenant, selectors(profiles))
			return enforced, "", readOnlyRetry, err
		}
		if apply.OwnsThroughUpdate(live) {
			// Created by the operator, whose hand-over of the create's fields did not happen (see apply.Create).
			if err := apply.HandOverToApply(ctx, r.Client, live); err != nil {
				return nil, "", 0, err
			}
		}
		if live.Data[logs.RuntimeConfigKey] == string(content) {
			return selectors(profiles), "", 0, nil
		}
		obj, err := render.Manifest(desired)
		if err != nil {
			return nil, "", 0, err
		}
		obj.SetResourceVersion(live.ResourceVersion) // the ownership just checked holds for this version only
		if err := apply.ServerSideApply(ctx, r.Client, obj); err != nil {
			return nil, "", 0, err
		}
		log.FromContext(ctx).Info("Applied child", "kind", "ConfigMap", "name", r.ConfigMap.String(), "profiles", len(profiles))
		return selectors(profiles), "", 0, nil
	}
	return nil, "", 0, fmt.Errorf("ConfigMap %s kept appearing and vanishing while the operator created it", r.ConfigMap)
}

// SetupWithManager runs the reconciler on any change of a profile or of its ConfigMap, always for the same
// key: one worker, one run at a time.
func (r *LogRetentionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	one := func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: r.ConfigMap}}
	}
	ours := func(_ context.Context, o client.Object) []reconcile.Request {
		if o.GetNamespace() == r.ConfigMap.Namespace && o.GetName() == r.ConfigMap.Name {
			return []reconcile.Request{{NamespacedName: r.ConfigMap}}
		}
		return nil
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("logretention").
		Watches(&v1alpha1.ReliabilityProfile{}, handler.EnqueueRequestsFromMapFunc(one)).
		Watches(&corev1.ConfigMap{}, handler.EnqueueRequestsFromMapFunc(ours))
	if r.Policies != nil {
		b = b.Watches(&v1alpha1.ReliabilityPolicy{}, handler.EnqueueRequestsFromMapFunc(one))
	}
	return b.Complete(r)
}

// enforcedIn are the selectors whose entry in the live overrides file is the one in the desired file.
func enforcedIn(live, desired, tenant string, selected map[string]bool) (map[string]bool, error) {
	want, err := logs.HeldStreams(desired, tenant, selected)
	if err != nil {
		return nil, err
	}
	have, err := logs.HeldStreams(live, tenant, selected)
	if err != nil {
		return nil, err
	}
	stored := map[logs.RetentionStream]bool{}
	for _, s := range have {
		stored[s] = true
	}
	out := map[string]bool{}
	for _, s := range want {
		if stored[s] {
			out[s.Selector] = true
		}
	}
	return out, nil
}

func (r *LogRetentionReconciler) writes() bool { return r.Writes == nil || r.Writes() }
