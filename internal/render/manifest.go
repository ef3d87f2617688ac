package render

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Manifest is the object as it is applied: the typed object converted to unstructured, without status and
// without the zero creationTimestamp that typed metadata always carries. The applier sends exactly this, the
// CLI prints it, and the golden files pin it, so the three cannot disagree.
func Manifest(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T %s to unstructured: %w", obj, obj.GetName(), err)
	}
	// Status belongs to the controller of the child (the disruption controller fills a PDB's status); a zero
	// status in the desired object would read as drift on every reconcile.
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	return &unstructured.Unstructured{Object: m}, nil
}
