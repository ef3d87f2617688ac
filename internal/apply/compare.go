package apply

import (
	"fmt"
	"reflect"
	"sort"
)

// serverMetadata are metadata fields the API server maintains; they differ between a dry-run result and the
// live object without anyone having changed the object.
var serverMetadata = map[string]bool{
	"managedFields": true, "resourceVersion": true, "generation": true, "creationTimestamp": true, "uid": true,
}

// FirstDifference compares what applying would store (after) with the live object, field for field, and
// reports the first difference in a stable order as a path such as `spec.ingress[1].from[0]`. Status and
// server-maintained metadata are skipped. The comparison is exact: both sides come from the API server, so
// defaults and fields owned by others (Argo CD's labels) are on both sides, and anything else that differs
// is something the apply would change.
func FirstDifference(after, live map[string]any) (string, bool) {
	return firstDifference("", after, live)
}

func firstDifference(path string, after, live any) (string, bool) {
	switch a := after.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return path, true
		}
		for _, k := range unionKeys(a, l) {
			if (path == "" && k == "status") || (path == "metadata" && serverMetadata[k]) {
				continue
			}
			child := k
			if path != "" {
				child = path + "." + k
			}
			if p, diff := firstDifference(child, a[k], l[k]); diff {
				return p, true
			}
		}
		return "", false
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(a) {
			return path, true
		}
		for i := range a {
			if p, diff := firstDifference(fmt.Sprintf("%s[%d]", path, i), a[i], l[i]); diff {
				return p, true
			}
		}
		return "", false
	default:
		if !reflect.DeepEqual(after, live) {
			return path, true
		}
		return "", false
	}
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
