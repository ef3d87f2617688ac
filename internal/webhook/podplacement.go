// Package webhook holds the operator's admission webhook: spot placement of pods (manifesto P-3).
//
// The webhook gathers what internal/placement needs (the profile that selects the pod, the pod's workload
// and how many of its pods are already spot-eligible) and returns the pod with placement.Mutate applied.
// It writes nothing to the API server: its configuration declares sideEffects None, and with
// failurePolicy Ignore a pod is created unchanged whenever the webhook cannot answer in time.
package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/policy"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// Path is where the API server sends pod admissions (config/webhook names it).
const Path = "/mutate-v1-pod-spot-placement"

// PodOwnerIndex indexes cached pods by the UID of their controller (ReplicaSet, StatefulSet, ...).
const PodOwnerIndex = "placement.ownerUID"

// PodOwnerUID is the index function of PodOwnerIndex.
func PodOwnerUID(obj client.Object) []string {
	if ref := metav1.GetControllerOf(obj); ref != nil {
		return []string{string(ref.UID)}
	}
	return nil
}

// pendingTTL is how long a spot-eligible decision counts before its pod shows up in the cache. A pod that
// was never created (refused later in admission) holds its slot that long: the error is on the side of
// fewer spot pods, never more.
const pendingTTL = 30 * time.Second

// PodPlacement is the mutating admission handler for pods.
type PodPlacement struct {
	// Cache reads profiles and pods (indexed by PodOwnerIndex) from the operator's cache.
	Cache client.Reader
	// Live reads the owner's replica count from the API server.
	Live    client.Reader
	Decoder admission.Decoder
	// Audits receives what would have been done to pods of Audit profiles.
	Audits *AuditLog
	// Policies reads the cluster's ReliabilityPolicy, whose tier defaults give a profile without
	// spec.placement.maxSpotFraction its limit; nil when its CRD is not installed.
	Policies client.Reader
	// Now is the clock; tests may fix it.
	Now func() time.Time

	mu        sync.Mutex
	owners    map[types.UID]*ownerState
	lastSweep time.Time
}

// ownerState serializes the decisions for one workload and remembers the recent spot-eligible ones.
type ownerState struct {
	sync.Mutex
	users   int                  // requests holding or waiting for the lock; the entry goes at zero
	pending map[string]time.Time // admission request UID → when it was decided spot-eligible
}

var _ admission.Handler = &PodPlacement{}

// Handle decides one pod. It never refuses one: failurePolicy Ignore covers a webhook that cannot be reached,
// not one that answers "no", so every failure here, a panic included, admits the pod unchanged.
func (w *PodPlacement) Handle(ctx context.Context, req admission.Request) (resp admission.Response) {
	defer func() {
		if r := recover(); r != nil {
			log.FromContext(ctx).Error(fmt.Errorf("%v", r), "Left pod unplaced: the webhook panicked", "namespace", req.Namespace)
			resp = admission.Allowed("spot placement skipped after an internal error")
		}
	}()
	if req.Operation != admissionv1.Create {
		return admission.Allowed("only pod creation is placed")
	}
	pod := &corev1.Pod{}
	if err := w.Decoder.Decode(req, pod); err != nil {
		return admission.Allowed("spot placement skipped: the pod could not be decoded: " + err.Error())
	}
	pod.Namespace = req.Namespace
	rp, policy, err := w.profileOf(ctx, pod)
	if err != nil {
		// Allowed unchanged, as if the webhook were down: placement never blocks a pod.
		log.FromContext(ctx).Error(err, "Left pod unplaced: could not read profiles", "namespace", req.Namespace)
		return admission.Allowed("spot placement skipped: " + err.Error())
	}
	if rp == nil {
		return admission.Allowed("no ReliabilityProfile selects this pod")
	}
	workload := w.workloadOf(ctx, pod)
	st := w.lock(workload.uid)
	defer w.unlock(workload.uid, st)
	if ctx.Err() != nil {
		// The API server gave up waiting and admitted the pod unchanged; a decision now would hold a slot.
		return admission.Allowed("spot placement skipped: the request timed out")
	}
	dryRun := req.DryRun != nil && *req.DryRun
	eligible, err := w.countSpotEligible(ctx, pod.Namespace, workload.uid, st, policy)
	if err != nil {
		log.FromContext(ctx).Error(err, "Counted no spot-eligible pods from the cache; kept the pod on on-demand", "namespace", req.Namespace)
		eligible = 1 << 30
	}
	workload.SpotEligible = eligible
	d := placement.Decide(pod, policy, workload.Workload)
	podName := pod.Name
	if podName == "" {
		podName = pod.GenerateName + "*"
	}
	if d.Outcome == placement.SpotEligible && !dryRun && workload.uid != "" {
		st.pending[string(req.UID)] = w.now()
	}
	if policy.Audit {
		if !dryRun {
			w.Audits.Record(client.ObjectKeyFromObject(rp), AuditRecord{Pod: podName, Decision: d, Time: w.now()})
		}
		return admission.Allowed("Audit mode: would have placed the pod " + string(d.Outcome) + ": " + d.Reason)
	}
	if d.Outcome != placement.SpotEligible && d.Outcome != placement.OnDemand {
		return admission.Allowed(d.Reason)
	}
	// The patch is the difference between the decoded pod before and after the mutation, never between the
	// request and a re-encoded pod: a field this build does not know (a newer API server's) would show up as
	// removed, and a quantity such as 1000m as rewritten.
	original, err := json.Marshal(pod)
	if err != nil {
		return admission.Allowed("spot placement skipped: " + err.Error())
	}
	placement.Mutate(pod, d, policy, string(req.UID))
	marshaled, err := json.Marshal(pod)
	if err != nil {
		return admission.Allowed("spot placement skipped: " + err.Error())
	}
	log.FromContext(ctx).V(1).Info("Placed pod", "namespace", pod.Namespace, "pod", podName, "profile", rp.Name,
		"outcome", d.Outcome, "reason", d.Reason)
	resp = admission.PatchResponseFromRaw(original, marshaled)
	resp.Result = &metav1.Status{Message: d.Reason}
	return resp
}

// profileOf finds the profile whose placement governs the pod: among the profiles of its namespace that
// select it, the strictest limit of those in Enforce mode, else the strictest in Audit mode (which only
// records). Nil when no profile selects the pod.
func (w *PodPlacement) profileOf(ctx context.Context, pod *corev1.Pod) (*v1alpha1.ReliabilityProfile, placement.Policy, error) {
	profiles := &v1alpha1.ReliabilityProfileList{}
	// Read-only: the cache's own objects, not copies, on the path of every pod creation.
	if err := w.Cache.List(ctx, profiles, client.InNamespace(pod.Namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, placement.Policy{}, err
	}
	pol, err := policy.Get(ctx, w.Policies)
	if err != nil {
		return nil, placement.Policy{}, err
	}
	var best *v1alpha1.ReliabilityProfile
	var bestPolicy placement.Policy
	for i := range profiles.Items {
		rp := &profiles.Items[i]
		if !rp.DeletionTimestamp.IsZero() || !Selects(rp, pod.Labels) {
			continue
		}
		effective := rp // the cache's own object: Apply copies it, and without a policy nothing needs copying
		if pol != nil {
			effective = policy.Apply(rp, pol, render.Options{}).Profile
		}
		p, err := placement.PolicyOf(effective)
		if err != nil {
			// A profile stored under an older CRD; its status says so. Another profile may still govern.
			log.FromContext(ctx).Error(err, "Skipped a profile whose placement cannot be applied", "namespace", rp.Namespace, "profile", rp.Name)
			continue
		}
		better := best == nil ||
			(bestPolicy.Audit && !p.Audit) ||
			(bestPolicy.Audit == p.Audit && (p.Limit < bestPolicy.Limit || (p.Limit == bestPolicy.Limit && rp.Name < best.Name)))
		if better {
			best, bestPolicy = rp, p
		}
	}
	return best, bestPolicy, nil
}

// Selects says whether the profile's selector matches pods with these labels. A profile that cannot be read
// (stored under an older CRD) selects nothing: its selector is unknown, and its status says so.
func Selects(rp *v1alpha1.ReliabilityProfile, podLabels map[string]string) bool {
	if rp.DecodeError() != nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(rp.Spec.Selector.Meta())
	if err != nil || sel.Empty() {
		return false
	}
	return sel.Matches(labels.Set(podLabels))
}

type workload struct {
	placement.Workload
	uid types.UID // of the owner; empty for a pod without one
}

// workloadOf reads the replica count of the pod's ReplicaSet or StatefulSet from the API server. Any other
// controller, or none, makes the pod a workload of one (a DaemonSet is named so that Decide skips it). An
// owner that cannot be read counts as zero replicas, which keeps the pod on on-demand nodes.
func (w *PodPlacement) workloadOf(ctx context.Context, pod *corev1.Pod) workload {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return workload{Workload: placement.Workload{Replicas: 1}}
	}
	wl := workload{Workload: placement.Workload{Kind: ref.Kind, Name: ref.Name, Replicas: 1}, uid: ref.UID}
	var replicas *int32
	var err error
	key := types.NamespacedName{Namespace: pod.Namespace, Name: ref.Name}
	switch {
	case ref.APIVersion == "apps/v1" && ref.Kind == "ReplicaSet":
		rs := &appsv1.ReplicaSet{}
		if err = w.Live.Get(ctx, key, rs); err == nil && rs.UID == ref.UID {
			replicas = rs.Spec.Replicas
		}
	case ref.APIVersion == "apps/v1" && ref.Kind == "StatefulSet":
		sts := &appsv1.StatefulSet{}
		if err = w.Live.Get(ctx, key, sts); err == nil && sts.UID == ref.UID {
			replicas = sts.Spec.Replicas
		}
	default:
		return wl
	}
	switch {
	case err != nil:
		log.FromContext(ctx).Error(err, "Could not read the pod's owner; kept the pod on on-demand", "kind", ref.Kind, "name", ref.Name)
		wl.Replicas = 0
	case replicas == nil:
		wl.Replicas = 1 // the API's default
	default:
		wl.Replicas = *replicas
	}
	return wl
}

// countSpotEligible counts the workload's live spot-eligible pods: those in the cache, and those decided
// moments ago that the cache has not seen yet. The caller holds the workload's lock.
//
// Audit mode leaves no annotation to find its decisions by: it counts the workload's pods that run on spot
// nodes, plus its own spot-eligible verdicts of the last pendingTTL. A pod can count twice for that time,
// so Audit verdicts err towards on-demand.
func (w *PodPlacement) countSpotEligible(ctx context.Context, namespace string, owner types.UID, st *ownerState, policy placement.Policy) (int32, error) {
	if owner == "" {
		return 0, nil
	}
	pods := &corev1.PodList{}
	if err := w.Cache.List(ctx, pods, client.InNamespace(namespace), client.MatchingFields{PodOwnerIndex: string(owner)}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, err
	}
	var n int32
	seen := map[string]bool{}
	for _, p := range pods.Items {
		if policy.Audit {
			spot, err := w.onSpotNode(ctx, p.Spec.NodeName, policy)
			if err != nil {
				return 0, err
			}
			if spot && p.DeletionTimestamp.IsZero() {
				n++
			}
			continue
		}
		if p.Annotations[placement.DecisionAnnotation] != string(placement.SpotEligible) {
			continue
		}
		seen[p.Annotations[placement.RequestAnnotation]] = true
		if p.DeletionTimestamp.IsZero() {
			n++
		}
	}
	now := w.now()
	for uid, at := range st.pending {
		if seen[uid] || now.Sub(at) > pendingTTL {
			delete(st.pending, uid)
			continue
		}
		n++
	}
	return n, nil
}

// onSpotNode says whether the named node (from the cache's node labels) is spot capacity.
func (w *PodPlacement) onSpotNode(ctx context.Context, nodeName string, policy placement.Policy) (bool, error) {
	if nodeName == "" {
		return false, nil
	}
	labels, _, err := NodeLabels(ctx, w.Cache, nodeName)
	return policy.IsSpotNode(labels), err
}

// NodeMetadata is a node as the operator reads and caches it: metadata only, for its labels.
func NodeMetadata() *metav1.PartialObjectMetadata {
	n := &metav1.PartialObjectMetadata{}
	n.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Node"))
	return n
}

// NodeLabels reads a node's labels; found is false for a node that is gone.
func NodeLabels(ctx context.Context, r client.Reader, name string) (labels map[string]string, found bool, err error) {
	node := NodeMetadata()
	if err := r.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
		return nil, false, client.IgnoreNotFound(err)
	}
	return node.Labels, true, nil
}

// lock takes the workload's lock. Pods without an owner share nothing and take none.
func (w *PodPlacement) lock(owner types.UID) *ownerState {
	if owner == "" {
		return nil
	}
	st := w.register(owner)
	st.Lock()
	return st
}

// register counts one more user of the workload's state, creating it if needed.
func (w *PodPlacement) register(owner types.UID) *ownerState {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.owners == nil {
		w.owners = map[types.UID]*ownerState{}
	}
	w.sweep()
	st := w.owners[owner]
	if st == nil {
		st = &ownerState{pending: map[string]time.Time{}}
		w.owners[owner] = st
	}
	st.users++
	return st
}

// sweep forgets, at most once per pendingTTL, the workloads nobody is deciding for whose pending decisions
// have all expired: a workload that gets no further pod would otherwise stay in memory for good. The caller
// holds w.mu; with no users, nobody holds or waits for a workload's own lock, so its map can be read.
func (w *PodPlacement) sweep() {
	now := w.now()
	if now.Sub(w.lastSweep) < pendingTTL {
		return
	}
	w.lastSweep = now
	for owner, st := range w.owners {
		if st.users > 0 {
			continue
		}
		live := false
		for _, at := range st.pending {
			if now.Sub(at) <= pendingTTL {
				live = true
				break
			}
		}
		if !live {
			delete(w.owners, owner)
		}
	}
}

// unlock releases the workload's lock; the last user forgets the workload once no decision is pending. The
// check runs under both locks: a waiting request may add a pending decision the moment st is released.
func (w *PodPlacement) unlock(owner types.UID, st *ownerState) {
	if st == nil {
		return
	}
	defer st.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	st.users--
	if st.users == 0 && len(st.pending) == 0 {
		delete(w.owners, owner)
	}
}

func (w *PodPlacement) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// AuditRecord is what the webhook would have done to one pod of an Audit profile.
type AuditRecord struct {
	Pod      string
	Decision placement.Decision
	Time     time.Time
}

// auditQueueLength bounds the records kept per profile until the controller reports them.
const auditQueueLength = 20

// AuditLog hands the webhook's Audit-mode decisions to the controller, which reports them in the profile's
// status and as Events. It lives in memory: the webhook itself writes nothing.
type AuditLog struct {
	mu      sync.Mutex
	records map[types.NamespacedName][]AuditRecord
	// Changed names the profiles with new records.
	Changed chan event.GenericEvent
}

// NewAuditLog makes an empty log.
func NewAuditLog() *AuditLog {
	return &AuditLog{records: map[types.NamespacedName][]AuditRecord{}, Changed: make(chan event.GenericEvent, 1024)}
}

// Record queues a record for the profile, dropping the oldest beyond auditQueueLength.
func (a *AuditLog) Record(profile types.NamespacedName, r AuditRecord) {
	a.mu.Lock()
	q := append(a.records[profile], r)
	if len(q) > auditQueueLength {
		q = q[len(q)-auditQueueLength:]
	}
	a.records[profile] = q
	a.mu.Unlock()
	rp := &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: profile.Namespace, Name: profile.Name}}
	select {
	case a.Changed <- event.GenericEvent{Object: rp}:
	default: // the records wait for the profile's next reconcile
	}
}

// Take returns and forgets the profile's queued records, oldest first.
func (a *AuditLog) Take(profile types.NamespacedName) []AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.records[profile]
	delete(a.records, profile)
	return q
}
