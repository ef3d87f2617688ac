package cli

import (
	"fmt"
	"strings"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

const profileKind = "ReliabilityProfile"

// identify names a document as the reports do.
func identify(d Document) DocumentID {
	meta, _ := d.Object["metadata"].(map[string]any)
	id := DocumentID{Source: d.Source}
	id.APIVersion, _ = d.Object["apiVersion"].(string)
	id.Kind, _ = d.Object["kind"].(string)
	id.Namespace, _ = meta["namespace"].(string)
	id.Name, _ = meta["name"].(string)
	if id.Namespace == "" {
		id.Namespace = "default"
	}
	return id
}

// claimsToBeAProfile tells the documents --skip-other-kinds must still check: any of the reliability.dev
// group, whatever its kind or version, and any whose group or kind is a near miss of ours
// (reliabilty.dev/v1alpha1, kind ReliabiltyProfile). Skipping those would let a misspelt profile pass CI
// unchecked, and never reach the cluster as a profile.
func claimsToBeAProfile(d Document) bool {
	if d.NotAnObject != "" {
		return false // a kustomize JSON patch, a list of values: not a Kubernetes object at all
	}
	apiVersion, _ := d.Object["apiVersion"].(string)
	kind, _ := d.Object["kind"].(string)
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group = "" // the core group: "v1"
	}
	return nearMiss(strings.ToLower(group), v1alpha1.GroupVersion.Group) || nearMiss(strings.ToLower(kind), strings.ToLower(profileKind))
}

// nearMiss is true for s equal to want or at most two edits (insertions, deletions, substitutions) away.
func nearMiss(s, want string) bool {
	const most = 2
	if d := len(s) - len(want); d > most || d < -most {
		return false
	}
	// Levenshtein distance, one row at a time.
	prev := make([]int, len(want)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(s); i++ {
		cur := make([]int, len(want)+1)
		cur[0] = i
		for j := 1; j <= len(want); j++ {
			cost := 1
			if s[i-1] == want[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(want)] <= most
}

// notAProfile is the problem of a document that is not a ReliabilityProfile of the version this build
// serves, or nil. It names the field that is wrong, so that a typo is found at once.
func notAProfile(d Document) *Problem {
	if d.NotAnObject != "" {
		return &Problem{Message: fmt.Sprintf("not a Kubernetes object but %s; --skip-other-kinds skips it", d.NotAnObject)}
	}
	apiVersion, _ := d.Object["apiVersion"].(string)
	kind, _ := d.Object["kind"].(string)
	group, version, _ := strings.Cut(apiVersion, "/")
	want := v1alpha1.GroupVersion
	switch {
	case group == want.Group && kind == profileKind && version != want.Version:
		return &Problem{Field: "apiVersion", Type: "Unsupported value",
			Message: fmt.Sprintf("%q: this build serves %s only", apiVersion, want.String())}
	case group == want.Group && kind != profileKind:
		return &Problem{Field: "kind", Type: "Unsupported value",
			Message: fmt.Sprintf("%q: %s has the kind %s only", kind, want.Group, profileKind)}
	case apiVersion != want.String() || kind != profileKind:
		hint := ""
		if !claimsToBeAProfile(d) {
			hint = "; --skip-other-kinds skips documents of other kinds"
		}
		return &Problem{Message: fmt.Sprintf("not a %s of %s (apiVersion %q, kind %q)%s", profileKind, want.String(), apiVersion, kind, hint)}
	}
	return nil
}
