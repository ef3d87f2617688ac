package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// A profile whose stored spec this build cannot read (see v1alpha1.DecodeError) is reported and otherwise
// left alone: nothing is rendered, applied or pruned for it, its children and its log retention stay as they
// are, and the next reconcile after it is re-applied under the current CRD picks it up as usual.

var undecodableMetric = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "reliability_operator_undecodable_profiles",
	Help: "1 for each profile whose stored spec or status the operator cannot read (stored under an older CRD); it is left as it is until re-applied.",
}, []string{"namespace", "profile"})

func init() {
	metrics.Registry.MustRegister(undecodableMetric)
}

// forgetUndecodable drops the series of a profile that was fixed or deleted.
func forgetUndecodable(key types.NamespacedName) {
	undecodableMetric.DeleteLabelValues(key.Namespace, key.Name)
}

// handleUndecodable reports a profile that could not be read (a log line, the metric, and for an unreadable
// spec a Warning Event and Ready=False/Undecodable) and says whether the reconcile is done. An unreadable
// status, written by another version of the operator, is dropped instead, and the reconcile goes on with the
// profile as the API server returned it.
func (r *ReliabilityProfileReconciler) handleUndecodable(ctx context.Context, rp *v1alpha1.ReliabilityProfile, decodeErr *v1alpha1.DecodeError) (bool, error) {
	logger := log.FromContext(ctx)
	if !decodeErr.InSpec() {
		// A merge patch of null removes the status; the spec is not sent. The reply is the profile without it.
		if err := r.Client.Status().Patch(ctx, rp, client.RawPatch(types.MergePatchType, []byte(`{"status":null}`))); err != nil {
			return true, fmt.Errorf("dropping the status that could not be read: %w", err)
		}
		logger.Info("Dropped a status that could not be read", "namespace", rp.Namespace, "profile", rp.Name, "error", decodeErr.Error())
		if decodeErr = asDecodeError(rp); decodeErr == nil {
			return false, nil
		}
	}
	logger.Error(decodeErr, "Left a profile that could not be read as it is: nothing rendered, nothing deleted",
		"namespace", rp.Namespace, "profile", rp.Name, "field", decodeErr.Field)
	undecodableMetric.WithLabelValues(rp.Namespace, rp.Name).Set(1)
	before := rp.Status.DeepCopy()
	setUndecodableStatus(rp, decodeErr, r.now())
	if equality.Semantic.DeepEqual(before, &rp.Status) {
		return true, nil
	}
	ready := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition)
	if prev := meta.FindStatusCondition(before.Conditions, v1alpha1.ReadyCondition); prev == nil || prev.Reason != ready.Reason || prev.Message != ready.Message {
		r.Recorder.Eventf(rp, nil, corev1.EventTypeWarning, v1alpha1.UndecodableReason, "Decode", "%s", ready.Message)
	}
	if err := r.patchUndecodableStatus(ctx, rp); err != nil {
		return true, fmt.Errorf("writing status: %w", err)
	}
	return true, nil
}

// patchUndecodableStatus writes the conditions and observedGeneration with a merge patch of the status alone:
// the profile in hand has an empty spec, which must never be sent back. The API server accepts the write
// under a stricter CRD too: validation ratchets, and values that did not change are not checked again.
func (r *ReliabilityProfileReconciler) patchUndecodableStatus(ctx context.Context, rp *v1alpha1.ReliabilityProfile) error {
	patch, err := json.Marshal(map[string]any{"status": map[string]any{
		"observedGeneration": rp.Status.ObservedGeneration,
		"conditions":         rp.Status.Conditions,
	}})
	if err != nil {
		return err
	}
	return r.Client.Status().Patch(ctx, rp, client.RawPatch(types.MergePatchType, patch))
}

// setUndecodableStatus reports the unreadable field: Degraded=True and Ready=False, both Undecodable, with
// what to do. The children and their states in resources[] are left as last reported: they are kept.
func setUndecodableStatus(rp *v1alpha1.ReliabilityProfile, decodeErr *v1alpha1.DecodeError, now metav1.Time) {
	st := &rp.Status
	st.ObservedGeneration = rp.Generation
	setCondition(st, metav1.Condition{Type: v1alpha1.DegradedCondition, Status: metav1.ConditionTrue,
		Reason: v1alpha1.UndecodableReason, Message: undecodableMessage(decodeErr)}, rp.Generation, now)
	setReadyCondition(st, rp.Generation, rp.Spec.Mode, now)
	setProgressConditions(st, rp.Generation, false, now) // Stalled: someone must re-apply the profile
}

func undecodableMessage(decodeErr *v1alpha1.DecodeError) string {
	return fmt.Sprintf("%s. The profile was accepted under an older, looser CRD, and the operator cannot read it: re-apply "+
		"the profile with a valid %s under the current CRD, which checks it at admission. Until then nothing is "+
		"rendered or deleted for this profile, and its children stay as they are.", decodeErr.Error(), decodeErr.Field)
}

// asDecodeError is the profile's decoding error, or nil when it could be read.
func asDecodeError(rp *v1alpha1.ReliabilityProfile) *v1alpha1.DecodeError {
	var decodeErr *v1alpha1.DecodeError
	if errors.As(rp.DecodeError(), &decodeErr) {
		return decodeErr
	}
	return nil
}

// storedService is the service the profile declares, also when the rest of its spec cannot be read: an
// unreadable profile keeps its claim on its service.
func storedService(rp *v1alpha1.ReliabilityProfile) string {
	if decodeErr := asDecodeError(rp); decodeErr != nil {
		return decodeErr.Service
	}
	return rp.Spec.Service
}

// heldRetention are the live Loki entries of the profiles that cannot be read, to be written again as they
// are. The ConfigMap is read only when there are such profiles; one that is missing or not the operator's
// holds nothing (the caller finds it again and acts on it).
func (r *LogRetentionReconciler) heldRetention(ctx context.Context, all []v1alpha1.ReliabilityProfile) ([]logs.RetentionStream, error) {
	held := map[string]bool{}
	for i := range all {
		rp := &all[i]
		if decodeErr := asDecodeError(rp); decodeErr != nil && rp.DeletionTimestamp.IsZero() && decodeErr.Service != "" {
			claim := v1alpha1.ReliabilityProfile{}
			claim.Namespace, claim.Spec.Service = rp.Namespace, decodeErr.Service
			held[logs.StreamSelector(&claim)] = true
		}
	}
	if len(held) == 0 {
		return nil, nil
	}
	live := &corev1.ConfigMap{}
	err := r.APIReader.Get(ctx, r.ConfigMap, live)
	if apierrors.IsNotFound(err) || (err == nil && live.Labels[render.ManagedByLabel] != render.ManagedByValue) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return logs.HeldStreams(live.Data[logs.RuntimeConfigKey], r.Tenant, held)
}
