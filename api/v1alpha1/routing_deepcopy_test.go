package v1alpha1_test

import (
	"testing"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Routing's deep copy is written by hand; a copy shares no map with the original.
func TestRoutingDeepCopySharesNoMap(t *testing.T) {
	in := &v1alpha1.Routing{Labels: map[string]string{"team": "a"}, Annotations: map[string]string{"note": "a"}}
	out := in.DeepCopy()
	out.Labels["team"], out.Annotations["note"] = "b", "b"
	if in.Labels["team"] != "a" || in.Annotations["note"] != "a" {
		t.Errorf("the copy shares its maps with the original: %+v", in)
	}
	if (&v1alpha1.Routing{}).DeepCopy().Labels != nil || (*v1alpha1.Routing)(nil).DeepCopy() != nil {
		t.Error("the copy of an empty or nil Routing is not empty or nil")
	}
}
