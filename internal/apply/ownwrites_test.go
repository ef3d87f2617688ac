package apply

import (
	"errors"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestOwnWritesTellTheOperatorsEventsFromOthers(t *testing.T) {
	pdb := schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}
	var w OwnWrites
	if w.IsOwn(pdb, "ns", "a", "10") {
		t.Error("an event of a child never written is the operator's")
	}

	// The event of a create that arrives before the create's answer, then one after it.
	done := w.begin(pdb, "ns", "a")
	if !w.IsOwn(pdb, "ns", "a", "11") {
		t.Error("an event during the operator's write was not held")
	}
	done(nil, "11")
	if w.Changed(pdb, "ns", "a") {
		t.Error("the operator's own event counted as someone else's write")
	}
	if !w.IsOwn(pdb, "ns", "a", "11") {
		t.Error("a late event of the operator's write is not its own")
	}
	if w.IsOwn(pdb, "ns", "a", "12") {
		t.Error("someone else's later write is the operator's")
	}
	if w.IsOwn(pdb, "ns", "b", "11") {
		t.Error("another child's event is the operator's")
	}

	// Someone else writes while the operator does: the write's caller must look again, once.
	done = w.begin(pdb, "ns", "a")
	w.IsOwn(pdb, "ns", "a", "13")
	w.IsOwn(pdb, "ns", "a", "14")
	done(nil, "14")
	if !w.Changed(pdb, "ns", "a") {
		t.Error("a write by someone else during the operator's was not reported")
	}
	if w.Changed(pdb, "ns", "a") {
		t.Error("Changed reported the same write twice")
	}

	// A write that failed: whatever arrived meanwhile was someone else's.
	done = w.begin(pdb, "ns", "a")
	w.IsOwn(pdb, "ns", "a", "15")
	done(errors.New("refused"), "")
	if !w.Changed(pdb, "ns", "a") {
		t.Error("an event during a failed write was not reported")
	}

	// Only the latest writes are kept.
	for _, rv := range []string{"20", "21", "22"} {
		w.begin(pdb, "ns", "a")(nil, rv)
	}
	if w.IsOwn(pdb, "ns", "a", "20") || !w.IsOwn(pdb, "ns", "a", "22") {
		t.Error("the kept writes are not the latest ones")
	}
	w.forget(pdb, "ns", "a")
	if w.IsOwn(pdb, "ns", "a", "22") {
		t.Error("a forgotten child's write is still known")
	}
}
