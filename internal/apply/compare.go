package apply

import (
	"fmt"
	"reflect"
	"sort"
)

// ignoredMetadata are metadata fields the comparison skips: the server fills them, or (ownerReferences) the
// applier checks them separately.
var ignoredMetadata = map[string]bool{
	"ownerReferences": true, "managedFields": true, "resourceVersion": true, "uid": true, "generation": true,
	"creationTimestamp": true,
}

// FirstDifference reports the first field, in a stable order, where live does not hold what desired says,
// as a path such as `spec.ingress[1].ports`. Maps compare as subsets: keys that only live has (labels added
// by Argo CD, fields defaulted by the API server) are not differences. Lists compare element by element and
// must have the same length, because the operator owns its lists whole (an extra ingress rule added by
// someone else opens the service and is drift).
func FirstDifference(desired, live map[string]any) (string, bool) {
	return firstDifference("", desired, live)
}

func firstDifference(path string, desired, live any) (string, bool) {
	switch d := desired.(type) {
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return path, true
		}
		keys := make([]string, 0, len(d))
		for k := range d {
			if path == "metadata" && ignoredMetadata[k] {
				continue
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := k
			if path != "" {
				child = path + "." + k
			}
			lv, ok := l[k]
			if !ok {
				if isEmpty(d[k]) {
					continue
				}
				return child, true
			}
			if p, diff := firstDifference(child, d[k], lv); diff {
				return p, true
			}
		}
		return "", false
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) != len(d) {
			if !ok && len(d) == 0 && live == nil {
				return "", false
			}
			return path, true
		}
		for i := range d {
			if p, diff := firstDifference(fmt.Sprintf("%s[%d]", path, i), d[i], l[i]); diff {
				return p, true
			}
		}
		return "", false
	default:
		if !reflect.DeepEqual(desired, live) {
			return path, true
		}
		return "", false
	}
}

// isEmpty is true for values the API server drops when it stores an object (an empty map or list), so that
// their absence in the live object is not a difference.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case nil:
		return true
	}
	return false
}
