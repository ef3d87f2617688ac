package apply

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTransientTellsRetriesFromRefusals(t *testing.T) {
	pdb := schema.GroupResource{Group: "policy", Resource: "poddisruptionbudgets"}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"a refusal by validation needs someone to act", apierrors.NewInvalid(schema.GroupKind{Kind: "PodDisruptionBudget"}, "checkout", nil), false},
		{"a refusal by an admission policy needs someone to act", apierrors.NewForbidden(pdb, "checkout", errors.New("denied by policy")), false},
		{"a bad request needs someone to act", apierrors.NewBadRequest("no"), false},
		{"a timeout passes", apierrors.NewTimeoutError("slow", 1), true},
		{"throttling passes", apierrors.NewTooManyRequests("busy", 1), true},
		{"a conflict passes", apierrors.NewConflict(pdb, "checkout", errors.New("changed")), true},
		{"an unavailable API server passes", apierrors.NewServiceUnavailable("restarting"), true},
		{"a webhook that could not be called passes", apierrors.NewInternalError(errors.New("failed calling webhook")), true},
		{"a lost connection passes", fmt.Errorf("apply: %w", context.DeadlineExceeded), true},
		{"a wrapped refusal is still a refusal", fmt.Errorf("restoring: %w", apierrors.NewForbidden(pdb, "x", errors.New("no"))), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
