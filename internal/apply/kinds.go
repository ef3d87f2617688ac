package apply

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// KindSet is the set of child kinds the cluster serves, kept up to date by its owner (the operator fills it
// at start-up and from its watch of CustomResourceDefinitions). With it the applier never asks discovery
// whether a kind is installed: the REST mapper asks the API server again on every lookup of a kind it does
// not know, which for a cluster without Grafana or Velero is every reconcile. Safe for concurrent use.
type KindSet struct {
	mu    sync.RWMutex
	kinds map[schema.GroupVersionKind]bool
}

// NewKindSet is a set of the given kinds.
func NewKindSet(kinds ...schema.GroupVersionKind) *KindSet {
	s := &KindSet{kinds: map[schema.GroupVersionKind]bool{}}
	for _, k := range kinds {
		s.kinds[k] = true
	}
	return s
}

// Has tells whether the kind is served.
func (s *KindSet) Has(gvk schema.GroupVersionKind) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.kinds[gvk]
}

// Add records the kind as served; it tells whether it was not before.
func (s *KindSet) Add(gvk schema.GroupVersionKind) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kinds[gvk] {
		return false
	}
	s.kinds[gvk] = true
	return true
}
