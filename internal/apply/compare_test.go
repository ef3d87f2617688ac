package apply

import "testing"

func TestFirstDifference(t *testing.T) {
	// object is what a NetworkPolicy looks like on the server; mutate changes one copy of it.
	object := func(mutate func(spec, meta map[string]any)) map[string]any {
		spec := map[string]any{
			"ingress": []any{map[string]any{
				"from":  []any{map[string]any{"podSelector": map[string]any{"matchLabels": map[string]any{"app": "frontend"}}}},
				"ports": []any{map[string]any{"port": int64(8067), "protocol": "TCP"}},
			}},
			"policyTypes": []any{"Ingress"},
		}
		meta := map[string]any{
			"name":            "a",
			"labels":          map[string]any{"app.kubernetes.io/managed-by": "reliability-operator"},
			"resourceVersion": "12",
			"managedFields":   []any{map[string]any{"manager": "reliability-operator"}},
		}
		mutate(spec, meta)
		return map[string]any{"metadata": meta, "spec": spec, "status": map[string]any{}}
	}
	after := object(func(_, _ map[string]any) {})
	peer := func(s map[string]any) map[string]any {
		return s["ingress"].([]any)[0].(map[string]any)["from"].([]any)[0].(map[string]any)
	}
	tests := []struct {
		name     string
		live     map[string]any
		wantPath string
		wantDiff bool
	}{
		{"an identical object does not differ", object(func(_, _ map[string]any) {}), "", false},
		{"server-maintained metadata and status are not differences",
			object(func(_, m map[string]any) {
				m["resourceVersion"], m["generation"], m["uid"] = "13", int64(2), "u"
				m["managedFields"] = []any{}
			}), "", false},
		{"a changed port is found with its path",
			object(func(s, _ map[string]any) {
				s["ingress"].([]any)[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"] = int64(80)
			}), "spec.ingress[0].ports[0].port", true},
		{"a namespaceSelector added to a peer (which widens it to every namespace) is a difference",
			object(func(s, _ map[string]any) { peer(s)["namespaceSelector"] = map[string]any{} }),
			"spec.ingress[0].from[0].namespaceSelector", true},
		{"an extra ingress rule is a difference",
			object(func(s, _ map[string]any) { s["ingress"] = append(s["ingress"].([]any), map[string]any{}) }),
			"spec.ingress", true},
		{"a removed operator label is a difference",
			object(func(_, m map[string]any) { delete(m["labels"].(map[string]any), "app.kubernetes.io/managed-by") }),
			"metadata.labels.app.kubernetes.io/managed-by", true},
		{"a field of another type is a difference",
			object(func(s, _ map[string]any) { s["policyTypes"] = "Ingress" }), "spec.policyTypes", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, diff := FirstDifference(after, tt.live)
			if diff != tt.wantDiff || path != tt.wantPath {
				t.Errorf("FirstDifference = (%q, %v), want (%q, %v)", path, diff, tt.wantPath, tt.wantDiff)
			}
		})
	}
}
