package render

import (
	"fmt"
	"maps"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
)

// flowKind is kube-logging's Flow. Its Go SDK does not build with our Kubernetes libraries, so the Flow is
// written as unstructured data, in the shape of its CRD.
var flowKind = schema.GroupVersionKind{Group: "logging.banzaicloud.io", Version: "v1beta1", Kind: "Flow"}

// LoggingFlow routes the service's pod logs to the ClusterOutput of its log tier (O-5): the ClusterOutputs
// hold the retention, the Flow picks the right one. It returns nil when the operator has no logging-operator
// outputs. Flows select pods by labels only, so a selector without matchLabels cannot be expressed.
func LoggingFlow(rp *v1alpha1.ReliabilityProfile, opts Options) (*unstructured.Unstructured, error) {
	if len(opts.LoggingClusterOutputs) == 0 {
		return nil, nil
	}
	tier, _ := logs.Retention(rp)
	output, ok := opts.LoggingClusterOutputs[tier]
	if !ok {
		return nil, fmt.Errorf("no logging-operator ClusterOutput is configured for log tier %s (--logging-cluster-outputs)", tier)
	}
	if len(rp.Spec.Selector.MatchLabels) == 0 {
		return nil, fmt.Errorf("spec.selector: logging-operator Flows select pods by labels only, and the selector has no matchLabels")
	}
	meta := childMeta(rp, nil)
	labels := map[string]any{}
	for k, v := range rp.Spec.Selector.MatchLabels {
		labels[k] = v
	}
	metaMap, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&meta) // Manifest drops its zero creationTimestamp
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"metadata": metaMap,
		"spec": map[string]any{
			"match":            []any{map[string]any{"select": map[string]any{"labels": maps.Clone(labels)}}},
			"globalOutputRefs": []any{output},
		},
	}}
	u.SetGroupVersionKind(flowKind)
	return u, nil
}

func flowPrototype() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(flowKind)
	return u
}
