package controllers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// undecodable is a profile as the cache holds one stored with spec.disruption.maxUnavailable: 99999999999.
func undecodable(t *testing.T, name, service string, created metav1.Time) v1alpha1.ReliabilityProfile {
	t.Helper()
	data, err := json.Marshal(map[string]any{
		"apiVersion": "reliability.dev/v1alpha1", "kind": "ReliabilityProfile",
		"metadata": map[string]any{"name": name, "namespace": "shop", "uid": name, "generation": 2, "creationTimestamp": created},
		"spec":     map[string]any{"service": service, "disruption": map[string]any{"maxUnavailable": 99999999999}},
		"status": map[string]any{"observedGeneration": 1, "resources": []any{
			map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "name": name, "state": "InSync"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	rp := v1alpha1.ReliabilityProfile{}
	if err := json.Unmarshal(data, &rp); err != nil || rp.DecodeError() == nil {
		t.Fatalf("decoded %v, decode error %v", err, rp.DecodeError())
	}
	return rp
}

func TestSetUndecodableStatus(t *testing.T) {
	rp := undecodable(t, "checkout", "checkout", t0)
	setUndecodableStatus(&rp, asDecodeError(&rp), t1)
	wantCondition(t, &rp, v1alpha1.ReadyCondition, metav1.ConditionFalse, v1alpha1.UndecodableReason)
	wantCondition(t, &rp, v1alpha1.DegradedCondition, metav1.ConditionTrue, v1alpha1.UndecodableReason)
	for _, c := range rp.Status.Conditions {
		for _, want := range []string{"spec.disruption.maxUnavailable", "99999999999", "re-apply", "current CRD"} {
			if !strings.Contains(c.Message, want) {
				t.Errorf("%s message %q does not say %q", c.Type, c.Message, want)
			}
		}
	}
	if rp.Status.ObservedGeneration != 2 || len(rp.Status.Resources) != 1 {
		t.Errorf("status = %+v, want generation 2 observed and the kept child still listed", rp.Status)
	}
	// The same outcome again changes nothing, so that no write and no Event follow.
	again := rp.DeepCopy()
	setUndecodableStatus(again, asDecodeError(again), metav1.NewTime(t1.Add(1)))
	if !conditionsEqual(again.Status.Conditions, rp.Status.Conditions) {
		t.Errorf("a second reconcile changed the conditions: %+v", again.Status.Conditions)
	}
}

func conditionsEqual(a, b []metav1.Condition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestAnUnreadableOlderProfileKeepsItsClaimOnTheService(t *testing.T) {
	older := undecodable(t, "a", "shop", t0)
	newer := v1alpha1.ReliabilityProfile{}
	newer.Name, newer.UID, newer.Spec.Service, newer.CreationTimestamp = "b", "b", "shop", t1
	var dup *DuplicateServiceError
	if err := duplicateService(&newer, []v1alpha1.ReliabilityProfile{older, newer}); !errors.As(err, &dup) || dup.Profile != "a" {
		t.Errorf("err = %v, want refused in favour of the unreadable older profile a", err)
	}
	other := newer
	other.Spec.Service = "cart"
	if err := duplicateService(&other, []v1alpha1.ReliabilityProfile{older, other}); err != nil {
		t.Errorf("a profile of another service was refused: %v", err)
	}
}

func TestAnUnreadableProfileIsNotEnforcedButNotForgotten(t *testing.T) {
	readable := v1alpha1.ReliabilityProfile{}
	readable.Name, readable.Namespace, readable.UID, readable.Spec.Service = "search", "shop", "search", "search"
	got := enforceable([]v1alpha1.ReliabilityProfile{undecodable(t, "checkout", "checkout", t0), readable})
	if len(got) != 1 || got[0].Name != "search" {
		t.Errorf("enforceable = %v, want search only", got)
	}
}
