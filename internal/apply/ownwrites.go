package apply

import (
	"slices"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ownWritesKept is how many of the latest resourceVersions the operator wrote are kept per child: a
// reconcile writes a child at most twice (a hand-over, then an apply), and the watch may deliver the event of
// the first write after the second has returned.
const ownWritesKept = 2

// OwnWrites tells the watch events that the operator's own writes of children cause from everyone else's.
// Without it every create or update of a child comes back as an event that reconciles its profile once more,
// to find nothing to do: twice the reconciles for every change, each reading the profile's namespace.
//
// A write's resourceVersion is known only once the API server has answered, and the watch event of a write
// can arrive before that answer. So an event for a child with a write in flight is held: when the write
// returns, an event whose resourceVersion is not the operator's means someone else wrote the child
// meanwhile, and the write's caller is told (Changed) to look again. An event for a child with no write in
// flight is the operator's only when its resourceVersion is one the operator wrote. The zero value is ready
// for use; it is safe for concurrent use.
type OwnWrites struct {
	mu       sync.Mutex
	children map[verifiedKey]*ownWriteState
}

type ownWriteState struct {
	inFlight int
	// written are the resourceVersions of the operator's latest writes, newest last.
	written []string
	// held are the resourceVersions of events that arrived while a write was in flight.
	held []string
	// changed is set when a held event turned out not to be the operator's.
	changed bool
}

// begin records a write of the child in flight; done records how it ended, with the resourceVersion the
// server answered.
func (w *OwnWrites) begin(gvk schema.GroupVersionKind, namespace, name string) (done func(err error, resourceVersion string)) {
	key := verifiedKey{gvk, namespace, name}
	w.mu.Lock()
	if w.children == nil {
		w.children = map[verifiedKey]*ownWriteState{}
	}
	s := w.children[key]
	if s == nil {
		s = &ownWriteState{}
		w.children[key] = s
	}
	s.inFlight++
	w.mu.Unlock()
	return func(err error, resourceVersion string) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if err == nil && resourceVersion != "" {
			s.written = append(s.written, resourceVersion)
			if len(s.written) > ownWritesKept {
				s.written = s.written[len(s.written)-ownWritesKept:]
			}
		}
		s.inFlight--
		if s.inFlight > 0 {
			return
		}
		for _, rv := range s.held {
			if !slices.Contains(s.written, rv) {
				s.changed = true
			}
		}
		s.held = nil
	}
}

// IsOwn tells whether the watch event of the child at resourceVersion is the operator's own write, which
// needs no reconcile. An event that arrives while a write is in flight counts as the operator's here and is
// settled when the write returns (see Changed).
func (w *OwnWrites) IsOwn(gvk schema.GroupVersionKind, namespace, name, resourceVersion string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.children[verifiedKey{gvk, namespace, name}]
	switch {
	case s == nil || resourceVersion == "":
		return false
	case slices.Contains(s.written, resourceVersion):
		return true
	case s.inFlight > 0:
		s.held = append(s.held, resourceVersion)
		return true
	}
	return false
}

// Changed tells, once, whether someone else wrote the child while the operator was writing it: the event of
// that write was held (IsOwn), and the child's state is known only after another look.
func (w *OwnWrites) Changed(gvk schema.GroupVersionKind, namespace, name string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.children[verifiedKey{gvk, namespace, name}]
	if s == nil || !s.changed {
		return false
	}
	s.changed = false
	return true
}

// forget drops what is known of a deleted child.
func (w *OwnWrites) forget(gvk schema.GroupVersionKind, namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.children, verifiedKey{gvk, namespace, name})
}
