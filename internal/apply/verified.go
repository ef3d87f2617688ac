package apply

import (
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// verifiedCache records the last state in which each child was found in sync: its resourceVersion and the
// hash of what the operator wanted. While both are unchanged nothing can have drifted, so the dry-run
// comparison is skipped. Any write by anyone changes the resourceVersion and brings the comparison back.
// It holds one small entry per child.
type verifiedCache struct {
	mu      sync.Mutex
	entries map[verifiedKey]verifiedState
}

type verifiedKey struct {
	gvk             schema.GroupVersionKind
	namespace, name string
}

type verifiedState struct{ resourceVersion, hash string }

func (c *verifiedCache) matches(gvk schema.GroupVersionKind, namespace, name, resourceVersion, hash string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[verifiedKey{gvk, namespace, name}]
	return ok && resourceVersion != "" && s == verifiedState{resourceVersion, hash}
}

func (c *verifiedCache) remember(gvk schema.GroupVersionKind, namespace, name, resourceVersion, hash string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[verifiedKey]verifiedState{}
	}
	c.entries[verifiedKey{gvk, namespace, name}] = verifiedState{resourceVersion, hash}
}

func (c *verifiedCache) forget(gvk schema.GroupVersionKind, namespace, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, verifiedKey{gvk, namespace, name})
}
