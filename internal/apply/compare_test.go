package apply

import "testing"

func TestFirstDifference(t *testing.T) {
	desired := map[string]any{
		"metadata": map[string]any{
			"name":   "a",
			"labels": map[string]any{"app.kubernetes.io/managed-by": "reliability-operator"},
		},
		"spec": map[string]any{
			"ingress": []any{
				map[string]any{"ports": []any{map[string]any{"port": int64(8067), "protocol": "TCP"}}},
			},
			"policyTypes": []any{"Ingress"},
			"empty":       map[string]any{},
		},
	}
	live := func(mutate func(spec map[string]any, meta map[string]any)) map[string]any {
		spec := map[string]any{
			"ingress": []any{
				map[string]any{"ports": []any{map[string]any{"port": int64(8067), "protocol": "TCP"}}},
			},
			"policyTypes": []any{"Ingress"},
		}
		meta := map[string]any{
			"name":            "a",
			"labels":          map[string]any{"app.kubernetes.io/managed-by": "reliability-operator"},
			"resourceVersion": "12",
			"ownerReferences": []any{map[string]any{"uid": "x"}, map[string]any{"uid": "y"}},
		}
		mutate(spec, meta)
		return map[string]any{"metadata": meta, "spec": spec}
	}
	tests := []struct {
		name     string
		live     map[string]any
		wantPath string
		wantDiff bool
	}{
		{"an identical object does not differ", live(func(_, _ map[string]any) {}), "", false},
		{"a label added by someone else (Argo CD's tracking label) is not a difference",
			live(func(_, m map[string]any) {
				m["labels"].(map[string]any)["argocd.argoproj.io/instance"] = "shop"
			}), "", false},
		{"a field the server defaulted is not a difference",
			live(func(s, _ map[string]any) { s["defaulted"] = "yes" }), "", false},
		{"an empty desired map that the server dropped is not a difference", live(func(_, _ map[string]any) {}), "", false},
		{"a changed port is found with its path",
			live(func(s, _ map[string]any) {
				s["ingress"].([]any)[0].(map[string]any)["ports"].([]any)[0].(map[string]any)["port"] = int64(80)
			}), "spec.ingress[0].ports[0].port", true},
		{"an extra ingress rule added by someone else is a difference",
			live(func(s, _ map[string]any) {
				s["ingress"] = append(s["ingress"].([]any), map[string]any{})
			}), "spec.ingress", true},
		{"a removed operator label is a difference",
			live(func(_, m map[string]any) { delete(m["labels"].(map[string]any), "app.kubernetes.io/managed-by") }),
			"metadata.labels.app.kubernetes.io/managed-by", true},
		{"a field of the wrong type is a difference",
			live(func(s, _ map[string]any) { s["policyTypes"] = "Ingress" }), "spec.policyTypes", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, diff := FirstDifference(desired, tt.live)
			if diff != tt.wantDiff || path != tt.wantPath {
				t.Errorf("FirstDifference = (%q, %v), want (%q, %v)", path, diff, tt.wantPath, tt.wantDiff)
			}
		})
	}
}
