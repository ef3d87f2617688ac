package logs_test

import (
	"strings"
	"testing"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
)

// TestHeldEntriesOfUnreadableProfilesAreWrittenAgain: the entry of a profile the operator cannot read is
// taken from the live file and kept, not dropped; a readable profile with the same selector wins.
func TestHeldEntriesOfUnreadableProfilesAreWrittenAgain(t *testing.T) {
	checkout := profile("shop", "checkout", "checkout", v1alpha1.TierCritical, nil)
	live, err := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{
		checkout, profile("shop", "search", "search", v1alpha1.TierNonCritical, nil)}, "fake")
	if err != nil {
		t.Fatal(err)
	}
	searchSelector := `{namespace="shop", service="search"}`
	held, err := logs.HeldStreams(string(live), "fake", map[string]bool{searchSelector: true, `{namespace="shop", service="gone"}`: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0].Selector != searchSelector || held[0].Period != "168h" {
		t.Fatalf("held = %+v, want search's 168h entry only", held)
	}
	// search can no longer be read: the file is rebuilt from checkout alone and search's held entry.
	again, err := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{checkout}, "fake", held...)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(live) {
		t.Errorf("the rebuilt file differs:\n%s\nfrom the live one:\n%s", again, live)
	}
	// Held and rendered under one selector: one entry, the rendered one.
	both, _ := logs.LokiOverrides([]v1alpha1.ReliabilityProfile{checkout, profile("shop", "search", "search", v1alpha1.TierCritical, nil)}, "fake", held...)
	if n := strings.Count(string(both), `service="search"`); n != 1 || strings.Contains(string(both), "168h") {
		t.Errorf("%d entries for search in\n%s", n, both)
	}
	if _, err := logs.HeldStreams("overrides: [", "fake", map[string]bool{searchSelector: true}); err == nil {
		t.Error("an unreadable live file gave no error")
	}
}
