package render

import (
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// PodDisruptionBudget limits voluntary disruptions of the service's pods.
//
// It always sets unhealthyPodEvictionPolicy AlwaysAllow: pods that are already failing may be evicted, so a
// crash-looping service never blocks a node drain (D-6).
func PodDisruptionBudget(rp *v1alpha1.ReliabilityProfile) *policyv1.PodDisruptionBudget {
	pdb := &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta(policyv1.SchemeGroupVersion.String(), "PodDisruptionBudget"),
		ObjectMeta: childMeta(rp, nil),
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector:                   rp.Spec.Selector.Meta(),
			UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
		},
	}
	d := rp.Spec.Disruption
	switch {
	case d != nil && d.MinAvailable != nil:
		pdb.Spec.MinAvailable = ptr.To(*d.MinAvailable)
	case d != nil && d.MaxUnavailable != nil:
		pdb.Spec.MaxUnavailable = ptr.To(*d.MaxUnavailable)
	default:
		pdb.Spec.MaxUnavailable = ptr.To(intstr.FromInt32(v1alpha1.DefaultMaxUnavailable))
	}
	return pdb
}
