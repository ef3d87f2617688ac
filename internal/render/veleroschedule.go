package render

import (
	"fmt"
	"time"

	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dr"
)

// VeleroSchedule backs the service up: a Velero Schedule in Velero's namespace (Velero only reads
// Schedules there), named <namespace>-<profile>, running every half RPO and keeping backups for the
// declared retention (never less than the RPO). It returns nil when the operator has no Velero namespace or
// the profile declares no backup.
func VeleroSchedule(rp *v1alpha1.ReliabilityProfile, opts Options) (*velerov1.Schedule, error) {
	if opts.VeleroNamespace == "" {
		return nil, nil
	}
	plan, err := dr.PlanOf(rp)
	if err != nil || plan == nil || plan.Backup == nil {
		return nil, err
	}
	b := plan.Backup
	template := velerov1.BackupSpec{
		// Only the profile's own namespace: the team that writes the profile owns that namespace, no other.
		IncludedNamespaces: []string{rp.Namespace},
		LabelSelector:      b.LabelSelector.Meta(),
		StorageLocation:    b.StorageLocation,
		TTL:                metav1.Duration{Duration: max(plan.Retention, plan.RPO)},
		// Velero copies the Schedule's labels to every Backup unless the template has its own; the operator's
		// ownership labels do not belong on Backups.
		Metadata: velerov1.Metadata{Labels: map[string]string{"reliability.dev/service": rp.Spec.Service}},
	}
	meta := childMeta(rp, nil)
	meta.Name, meta.Namespace = plan.ScheduleName, opts.VeleroNamespace
	return &velerov1.Schedule{
		TypeMeta:   typeMeta(velerov1.SchemeGroupVersion.String(), "Schedule"),
		ObjectMeta: meta,
		Spec: velerov1.ScheduleSpec{
			Template: template,
			Schedule: fmt.Sprintf("@every %s", everyDuration(plan.BackupInterval())),
			// Backups must outlive the profile: never let Velero tie them to the Schedule's lifetime.
			UseOwnerReferencesInBackup: ptr.To(false),
		},
	}, nil
}

// everyDuration writes a whole number of minutes as Velero's @every reads it (Go's duration syntax, which
// has no days): "30m", "12h", "1h30m".
func everyDuration(d time.Duration) string {
	h, m := int(d.Hours()), int(d.Minutes())%60
	switch {
	case h == 0:
		return fmt.Sprintf("%dm", m)
	case m == 0:
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}
