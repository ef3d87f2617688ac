package render

import (
	"encoding/json"
	"testing"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// FuzzRender feeds arbitrary specs to Render: whatever the API server might store, rendering must not panic,
// and every child it returns must convert to an apply manifest of a kind ChildTypes lists.
func FuzzRender(f *testing.F) {
	f.Add(`{"service":"a","tier":"critical","selector":{"matchLabels":{"a":"b"}}}`)
	f.Add(`{"service":"a","selector":{},"network":{"ingress":[{"from":[{"cidr":"10.0.0.0/8","except":["10.1.0.0/16"]},{}],"ports":[{"port":1,"endPort":2}]}]},"disruption":{}}`)
	f.Add(`{"service":"a","disruption":{"minAvailable":"50%","maxUnavailable":3},"metrics":{"serviceSelector":{"matchExpressions":[{"key":"k","operator":"Exists"}]}}}`)
	kinds := map[string]bool{}
	for _, o := range ChildTypes() {
		kinds[o.GetObjectKind().GroupVersionKind().Kind] = true
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rp := &v1alpha1.ReliabilityProfile{}
		if json.Unmarshal([]byte(spec), &rp.Spec) != nil {
			return
		}
		rp.Name, rp.Namespace = "p", "ns"
		objs, err := Render(rp, Options{})
		if err != nil {
			return
		}
		for _, o := range objs {
			if !kinds[o.GetObjectKind().GroupVersionKind().Kind] {
				t.Fatalf("Render returned a %s, which ChildTypes does not list (it would never be pruned or watched)", o.GetObjectKind().GroupVersionKind().Kind)
			}
			if _, err := Manifest(o); err != nil {
				t.Fatalf("Manifest: %v", err)
			}
		}
	})
}
