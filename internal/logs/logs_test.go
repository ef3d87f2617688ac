package logs_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/logs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/ from the current output")

func profile(ns, name, service string, tier v1alpha1.Tier, l *v1alpha1.LogsSpec) v1alpha1.ReliabilityProfile {
	return v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ReliabilityProfileSpec{Service: service, Tier: tier, Logs: l}}
}

func TestRetention(t *testing.T) {
	tests := []struct {
		name string
		rp   v1alpha1.ReliabilityProfile
		tier v1alpha1.Tier
		days int
	}{
		{"critical keeps 30 days", profile("a", "a", "a", v1alpha1.TierCritical, nil), v1alpha1.TierCritical, 30},
		{"non-critical keeps 7 days", profile("a", "a", "a", v1alpha1.TierNonCritical, nil), v1alpha1.TierNonCritical, 7},
		{"the log tier can differ from the service's", profile("a", "a", "a", v1alpha1.TierNonCritical,
			&v1alpha1.LogsSpec{Tier: v1alpha1.TierCritical}), v1alpha1.TierCritical, 30},
		{"an O-5 exception allows a longer retention", profile("a", "a", "a", v1alpha1.TierCritical,
			&v1alpha1.LogsSpec{RetentionDays: ptr.To[int32](365)}), v1alpha1.TierCritical, 365},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tier, retention := logs.Retention(&tt.rp)
			if tier != tt.tier || retention != time.Duration(tt.days)*24*time.Hour {
				t.Errorf("got %s %v, want %s %d days", tier, retention, tt.tier, tt.days)
			}
		})
	}
}

// TestLokiOverridesMatchTheGoldenFileWhateverTheOrder: the file is sorted, so any order of the same
// profiles gives the same bytes (no write when nothing changed), and deleted profiles are left out.
func TestLokiOverridesMatchTheGoldenFileWhateverTheOrder(t *testing.T) {
	deleting := profile("shop", "old", "old", v1alpha1.TierCritical, nil)
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Unix(1, 0)}
	ps := []v1alpha1.ReliabilityProfile{
		profile("shop", "checkout", "checkout", v1alpha1.TierCritical, nil),
		profile("boards", "boards", "boards", v1alpha1.TierNonCritical, nil),
		deleting,
		profile("shop", "audit", "audit-log", v1alpha1.TierCritical, &v1alpha1.LogsSpec{RetentionDays: ptr.To[int32](365)}),
	}
	got, err := logs.LokiOverrides(ps, "fake")
	if err != nil {
		t.Fatal(err)
	}
	reversed := []v1alpha1.ReliabilityProfile{ps[3], ps[2], ps[1], ps[0]}
	again, _ := logs.LokiOverrides(reversed, "fake")
	if !bytes.Equal(got, again) {
		t.Errorf("the order of the profiles changed the bytes:\n%s\n%s", got, again)
	}
	golden := filepath.Join("testdata", "runtime-config.golden.yaml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("runtime config differs from %s (run with -update if intended):\n%s", golden, got)
	}
}
