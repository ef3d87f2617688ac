// Package dr turns a profile's disaster-recovery plan into values and Prometheus rules: when a
// backup is configured, an alert when no backup succeeded within the RPO (from Velero's own metric), and,
// when a restore drill is recorded, an alert once it is older than allowed. Pure: the drill's age is left to
// Prometheus' clock (time()), so nothing here depends on when it runs.
package dr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// DefaultRPO applies when a backup is configured without an RPO.
const DefaultRPO = 24 * time.Hour

// Plan is a profile's disaster-recovery plan, parsed.
type Plan struct {
	Service, Namespace, Tier string
	RPO, RTO                 time.Duration
	RunbookURL               string
	Backup                   *v1alpha1.BackupSpec
	// ScheduleName is the name of the Velero Schedule of the backup, unique in the Velero namespace that holds
	// the Schedules of every namespace: see ScheduleName.
	ScheduleName      string
	LastRestoreTest   *time.Time
	RestoreTestMaxAge time.Duration
	Retention         time.Duration
}

// PlanOf parses spec.disasterRecovery; nil when the profile has none.
func PlanOf(rp *v1alpha1.ReliabilityProfile) (*Plan, error) {
	d := rp.Spec.DisasterRecovery
	if d == nil {
		return nil, nil
	}
	p := &Plan{Service: rp.Spec.Service, Namespace: rp.Namespace, Tier: string(rp.Spec.Tier), RunbookURL: d.RunbookURL,
		Backup: d.Backup, ScheduleName: ScheduleName(rp.Namespace, rp.Name), RestoreTestMaxAge: 90 * 24 * time.Hour,
		Retention: 720 * time.Hour}
	var err error
	parse := func(field, v string, out *time.Duration) {
		if v == "" || err != nil {
			return
		}
		d, e := model.ParseDuration(v)
		if e != nil || d <= 0 {
			err = fmt.Errorf("spec.disasterRecovery.%s: %q is not a duration such as 1h", field, v)
			return
		}
		*out = time.Duration(d)
	}
	parse("rpo", d.RPO, &p.RPO)
	parse("rto", d.RTO, &p.RTO)
	parse("restoreTestMaxAge", d.RestoreTestMaxAge, &p.RestoreTestMaxAge)
	if d.Backup != nil {
		parse("backup.retention", d.Backup.Retention, &p.Retention)
		if p.RPO == 0 {
			p.RPO = DefaultRPO
		}
	}
	if err != nil {
		return nil, err
	}
	if d.LastRestoreTest != "" {
		t, err := time.Parse(time.DateOnly, d.LastRestoreTest)
		if err != nil {
			return nil, fmt.Errorf("spec.disasterRecovery.lastRestoreTest: %q is not a date such as 2026-10-01", d.LastRestoreTest)
		}
		p.LastRestoreTest = &t
	}
	return p, nil
}

// ScheduleName is <namespace>-<profile>-<hash>, at most 63 characters: Velero writes it into a label of
// every Backup (63 at most), and the hash of the pair keeps "a-b/c" and "a/b-c" apart.
func ScheduleName(namespace, profile string) string {
	sum := sha256.Sum256([]byte(namespace + "/" + profile))
	suffix := "-" + hex.EncodeToString(sum[:3])
	base := namespace + "-" + profile
	if len(base) > 63-len(suffix) {
		base = strings.TrimRight(base[:63-len(suffix)], "-.")
	}
	return base + suffix
}

// BackupInterval is how often the backup runs: half the RPO (at least 5 minutes), so that one failed backup
// can be retried and still meet the RPO.
func (p Plan) BackupInterval() time.Duration {
	return max((p.RPO / 2).Round(time.Minute), 5*time.Minute)
}

// RestoreTestDue is the date by which the next restore drill is due, or nil when none is recorded.
func (p Plan) RestoreTestDue() *time.Time {
	if p.LastRestoreTest == nil {
		return nil
	}
	due := p.LastRestoreTest.Add(p.RestoreTestMaxAge)
	return &due
}

// Rules is the disaster-recovery rule group of the service, or nil when there is nothing to alert on.
func Rules(p Plan) *monitoringv1.RuleGroup {
	lbls := map[string]string{"service": p.Service, "namespace": p.Namespace, "tier": p.Tier}
	severity := "ticket"
	if p.Tier == string(v1alpha1.TierCritical) {
		severity = "page"
	}
	var rules []monitoringv1.Rule
	if p.Backup != nil {
		last := fmt.Sprintf(`velero_backup_last_successful_timestamp{schedule=%q}`, p.ScheduleName)
		rules = append(rules,
			alert(p, "BackupStale", fmt.Sprintf("time() - max(%s) > %d", last, int64(p.RPO.Seconds())), 10*time.Minute, lbls, severity,
				fmt.Sprintf("The last backup of %s is older than its RPO", p.Service),
				fmt.Sprintf("No backup of %s has succeeded for {{ $value | humanizeDuration }}; its RPO is %s (R-4). Velero Schedule %s.",
					p.Service, model.Duration(p.RPO), p.ScheduleName)),
			alert(p, "BackupMissing", fmt.Sprintf("absent(%s)", last), max(p.RPO, time.Hour), lbls, "ticket",
				fmt.Sprintf("Velero reports no successful backup of %s", p.Service),
				fmt.Sprintf("Velero has no successful backup for Schedule %s, or Prometheus does not scrape Velero (R-4).", p.ScheduleName)))
	}
	if due := p.RestoreTestDue(); due != nil {
		rules = append(rules, alert(p, "RestoreDrillOverdue", fmt.Sprintf("vector(time()) > %d", due.Unix()), 0, lbls, "ticket",
			fmt.Sprintf("The restore drill of %s is overdue", p.Service),
			fmt.Sprintf("The last restore drill of %s was on %s; the next was due on %s (R-3). Run one and update spec.disasterRecovery.lastRestoreTest.",
				p.Service, p.LastRestoreTest.Format(time.DateOnly), due.Format(time.DateOnly))))
	}
	if len(rules) == 0 {
		return nil
	}
	return &monitoringv1.RuleGroup{Name: p.Service + "-disaster-recovery", Rules: rules}
}

func alert(p Plan, name, expr string, forDuration time.Duration, lbls map[string]string, severity, summary, description string) monitoringv1.Rule {
	r := slo.Alert(name, expr, forDuration, lbls, severity, summary, description)
	if p.RunbookURL != "" {
		r.Annotations["runbook_url"] = p.RunbookURL
	}
	return r
}
