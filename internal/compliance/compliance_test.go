package compliance

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

var today = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// profile is a critical service that meets every rule the operator judges, with its children in sync.
func profile() *v1alpha1.ReliabilityProfile {
	rp := &v1alpha1.ReliabilityProfile{}
	rp.Name, rp.Namespace, rp.Generation = "checkout", "shop", 1
	rp.Spec = v1alpha1.ReliabilityProfileSpec{
		Service: "checkout", Tier: v1alpha1.TierCritical,
		Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": "checkout"}},
		Metrics:  v1alpha1.MetricsSpec{Port: 8067, Path: "/metrics", VersionMetric: "checkout_build_info"},
		SLOs: []v1alpha1.SLO{
			{Name: "availability", Objective: "99.9", ExternalObjective: "99.5", Indicator: v1alpha1.Indicator{Ratio: &v1alpha1.RatioIndicator{Errors: "e", Total: "t"}}},
			{Name: "latency", Objective: "99", Indicator: v1alpha1.Indicator{Latency: &v1alpha1.LatencyIndicator{Histogram: "h", Threshold: "0.3"}}},
		},
		Network:          &v1alpha1.NetworkSpec{},
		DisasterRecovery: &v1alpha1.DisasterRecoverySpec{RunbookURL: "https://runbooks.example.com/checkout", LastRestoreTest: "2026-11-01"},
	}
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "PodDisruptionBudget"} {
		rp.Status.Resources = append(rp.Status.Resources, v1alpha1.ChildStatus{Kind: kind, Name: "checkout", State: v1alpha1.ChildInSync})
	}
	rp.Status.Logs = &v1alpha1.LogsStatus{Tier: v1alpha1.TierCritical, Retention: "30d", Backend: "loki", Enforced: true}
	rp.Status.Placement = &v1alpha1.PlacementStatus{Limit: "0", Spot: 0, Total: 3, Fraction: "0"}
	return rp
}

// cluster has the service behind a ClusterIP Service and its password from a Secret.
func cluster() *Cluster {
	return &Cluster{
		Services: []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "checkout"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: map[string]string{"app": "checkout"},
				Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}, {Name: "metrics", Port: 8067, TargetPort: intstr.FromString("metrics")}}}}},
		Workloads: []Workload{{Kind: "Deployment", Name: "checkout", Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "checkout", "pod-template-hash": "x"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8067}}, Env: []corev1.EnvVar{
				{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{Key: "password"}}},
				{Name: "DB_PASSWORD_FILE", Value: "/run/secrets/db"},
				{Name: "LOG_LEVEL", Value: "info"},
			}}}},
		}}},
	}
}

func healthyPDB() *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{Status: policyv1.PodDisruptionBudgetStatus{ExpectedPods: 3, CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1}}
}

func verdictOf(t *testing.T, verdicts []Verdict, rule string) Verdict {
	t.Helper()
	i := slices.IndexFunc(verdicts, func(v Verdict) bool { return v.Rule == rule })
	if i < 0 {
		t.Fatalf("no verdict on %s", rule)
	}
	return verdicts[i]
}

func TestAServiceThatMeetsEveryRulePassesEach(t *testing.T) {
	verdicts := Evaluate(Snapshot{Profile: profile(), PDB: healthyPDB(), Cluster: cluster(), Now: today})
	for _, v := range verdicts {
		if v.Result != v1alpha1.CompliancePass {
			t.Errorf("%s: %s (%s), want Pass", v.Rule, v.Result, v.Message)
		}
	}
	if got := Summary(verdicts); got != "15/15" {
		t.Errorf("summary %s, want 13/13", got)
	}
}

func TestEachCheckFailsOnWhatBreaksItsRule(t *testing.T) {
	tests := []struct {
		rule    string
		want    v1alpha1.ComplianceResult
		message string // a part of the message
		breakIt func(*Snapshot)
	}{
		{v1alpha1.RuleD6, v1alpha1.ComplianceFail, "allows no disruption", func(s *Snapshot) { s.PDB.Status.DisruptionsAllowed = 0 }},
		{v1alpha1.RuleD6, v1alpha1.ComplianceFail, "at least two replicas", func(s *Snapshot) {
			s.PDB.Status.ExpectedPods, s.PDB.Status.CurrentHealthy = 1, 1
		}},
		{v1alpha1.RuleD6, v1alpha1.ComplianceUnknown, "matches no pod", func(s *Snapshot) { s.PDB.Status = policyv1.PodDisruptionBudgetStatus{} }},
		{v1alpha1.RuleD6, v1alpha1.ComplianceFail, "Conflict", func(s *Snapshot) { s.Profile.Status.Resources[3].State = v1alpha1.ChildConflict }},
		{v1alpha1.RuleO2, v1alpha1.ComplianceFail, "service=checkout", func(s *Snapshot) { s.Profile.Status.Resources[0].State = v1alpha1.ChildFailed }},
		{v1alpha1.RuleO5, v1alpha1.ComplianceFail, "not enforced", func(s *Snapshot) { s.Profile.Status.Logs.Enforced = false }},
		{v1alpha1.RuleO5, v1alpha1.ComplianceUnknown, "No log backend", func(s *Snapshot) {
			s.Profile.Status.Logs = &v1alpha1.LogsStatus{Tier: v1alpha1.TierCritical, Retention: "30d", Message: "No log backend is configured."}
		}},
		{v1alpha1.RuleO6, v1alpha1.ComplianceFail, "/metrics", func(s *Snapshot) { s.Profile.Spec.Metrics.Path = "/stats" }},
		{v1alpha1.RuleO7, v1alpha1.ComplianceFail, "port 9090", func(s *Snapshot) { s.Profile.Spec.Metrics.Port = 9090 }},
		{v1alpha1.RuleO7, v1alpha1.ComplianceFail, "Deployment/checkout declares no container port 8067", func(s *Snapshot) {
			s.Cluster.Workloads[0].Template.Spec.Containers[0].Ports = nil
		}},
		{v1alpha1.RuleO7, v1alpha1.ComplianceFail, "No Service that reaches the pods has a port to container port 8067", func(s *Snapshot) {
			s.Cluster.Services[0].Spec.Ports = s.Cluster.Services[0].Spec.Ports[:1]
		}},
		{v1alpha1.RuleO8, v1alpha1.ComplianceFail, "versionMetric", func(s *Snapshot) { s.Profile.Spec.Metrics.VersionMetric = "" }},
		{v1alpha1.RuleO9, v1alpha1.ComplianceFail, "no latency SLO", func(s *Snapshot) { s.Profile.Spec.SLOs = s.Profile.Spec.SLOs[:1] }},
		{v1alpha1.RuleP3, v1alpha1.ComplianceFail, "above the limit", func(s *Snapshot) {
			s.Profile.Status.Placement = &v1alpha1.PlacementStatus{Limit: "0.5", Spot: 2, Total: 3, Fraction: "0.667"}
		}},
		{v1alpha1.RuleP3, v1alpha1.ComplianceUnknown, "--spot-placement", func(s *Snapshot) { s.Profile.Status.Placement = nil }},
		{v1alpha1.RuleR1, v1alpha1.ComplianceNotApplicable, "external objective", func(s *Snapshot) { s.Profile.Spec.SLOs[0].ExternalObjective = "" }},
		{v1alpha1.RuleR2, v1alpha1.ComplianceFail, "no SLO", func(s *Snapshot) { s.Profile.Spec.SLOs = nil }},
		{v1alpha1.RuleR3, v1alpha1.ComplianceFail, "was due on 2027-01-30", func(s *Snapshot) { s.Now = time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC) }},
		{v1alpha1.RuleR3, v1alpha1.ComplianceFail, "No restore drill", func(s *Snapshot) { s.Profile.Spec.DisasterRecovery.LastRestoreTest = "" }},
		{v1alpha1.RuleR4, v1alpha1.ComplianceFail, "without a disaster-recovery runbook", func(s *Snapshot) { s.Profile.Spec.DisasterRecovery.RunbookURL = "" }},
		{v1alpha1.RuleR4, v1alpha1.ComplianceNotApplicable, "critical services", func(s *Snapshot) {
			s.Profile.Spec.Tier, s.Profile.Spec.DisasterRecovery.RunbookURL = v1alpha1.TierNonCritical, ""
		}},
		{v1alpha1.RuleS2, v1alpha1.ComplianceFail, "Service/checkout (LoadBalancer)", func(s *Snapshot) {
			s.Cluster.Services[0].Spec.Type = corev1.ServiceTypeLoadBalancer
		}},
		{v1alpha1.RuleS2, v1alpha1.ComplianceFail, "Ingress/shop (to Service/checkout)", func(s *Snapshot) {
			s.Cluster.Ingresses = []networkingv1.Ingress{{ObjectMeta: metav1.ObjectMeta{Name: "shop"}, Spec: networkingv1.IngressSpec{
				DefaultBackend: &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "checkout"}}}}}
		}},
		{v1alpha1.RuleS2, v1alpha1.CompliancePass, "Public as declared (the storefront", func(s *Snapshot) {
			s.Cluster.Services[0].Spec.Type = corev1.ServiceTypeNodePort
			s.Profile.Spec.Public = &v1alpha1.PublicExposure{Reason: "the storefront customers use"}
		}},
		{v1alpha1.RuleS2, v1alpha1.CompliancePass, "No LoadBalancer", func(s *Snapshot) {
			// A LoadBalancer of another service does not count.
			s.Cluster.Services = append(s.Cluster.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "cart"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "cart"}}})
		}},
		{v1alpha1.RuleS2, v1alpha1.ComplianceUnknown, "not read", func(s *Snapshot) { s.Cluster = nil }},
		{v1alpha1.RuleS3, v1alpha1.ComplianceFail, "Deployment/checkout container app: API_TOKEN", func(s *Snapshot) {
			c := &s.Cluster.Workloads[0].Template.Spec.Containers[0]
			c.Env = append(c.Env, corev1.EnvVar{Name: "API_TOKEN", Value: "*"})
		}},
		{v1alpha1.RuleS3, v1alpha1.ComplianceUnknown, "No Deployment", func(s *Snapshot) {
			s.Cluster.Workloads[0].Template.Labels = map[string]string{"app": "cart"}
		}},
		{v1alpha1.RuleS4, v1alpha1.ComplianceFail, "no spec.network", func(s *Snapshot) { s.Profile.Spec.Network = nil }},
		{v1alpha1.RuleS4, v1alpha1.ComplianceFail, "Missing", func(s *Snapshot) { s.Profile.Status.Resources[2].State = v1alpha1.ChildMissing }},
	}
	for _, tt := range tests {
		t.Run(tt.rule+" "+string(tt.want)+" "+tt.message, func(t *testing.T) {
			s := Snapshot{Profile: profile(), PDB: healthyPDB(), Cluster: cluster(), Now: today}
			tt.breakIt(&s)
			verdicts := Evaluate(s)
			v := verdictOf(t, verdicts, tt.rule)
			if v.Result != tt.want || !strings.Contains(v.Message, tt.message) {
				t.Errorf("%s: %s %q, want %s mentioning %q", tt.rule, v.Result, v.Message, tt.want, tt.message)
			}
			// What breaks one rule leaves the others passing, except those that read the same thing.
			also := map[string][]string{
				v1alpha1.RuleO2: {v1alpha1.RuleO6, v1alpha1.RuleO7}, // the ServiceMonitor
				v1alpha1.RuleR2: {v1alpha1.RuleO9, v1alpha1.RuleR1}, // no SLO at all
			}[tt.rule]
			if tt.rule == v1alpha1.RuleS2 && tt.message == "not read" {
				also = []string{v1alpha1.RuleS3} // nothing of the namespace was read
			}
			for _, other := range verdicts {
				if other.Rule != tt.rule && other.Result != v1alpha1.CompliancePass && !slices.Contains(also, other.Rule) {
					t.Errorf("breaking %s also changed %s: %s (%s)", tt.rule, other.Rule, other.Result, other.Message)
				}
			}
		})
	}
}

func TestAnExceptionWaivesItsRuleUntilItExpires(t *testing.T) {
	rp := profile()
	rp.Spec.DisasterRecovery.RunbookURL = ""
	rp.Spec.Exceptions = []v1alpha1.Exception{{Rule: v1alpha1.RuleR4, Reason: "Runbook in review", Expires: "2026-12-31", ApprovedBy: "sre-lead"}}
	s := Snapshot{Profile: rp, PDB: healthyPDB(), Cluster: cluster(), Now: today}

	v := verdictOf(t, Evaluate(s), v1alpha1.RuleR4)
	if v.Result != v1alpha1.ComplianceWaived || !strings.Contains(v.Message, "until 2026-12-31, approved by sre-lead: Runbook in review") {
		t.Errorf("in force: %s %q, want Waived naming expiry, approver and reason", v.Result, v.Message)
	}
	if got := Summary(Evaluate(s)); got != "15/15" {
		t.Errorf("a waived rule counts as met: summary %s", got)
	}
	// The exception holds through its last day, and the controller is told to look again when it ends.
	if next := NextChange(s); !next.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("next change %s, want the end of 2026-12-31", next)
	}
	s.Now = time.Date(2026, 12, 31, 23, 59, 0, 0, time.UTC)
	if v := verdictOf(t, Evaluate(s), v1alpha1.RuleR4); v.Result != v1alpha1.ComplianceWaived {
		t.Errorf("on its last day: %s, want Waived", v.Result)
	}
	s.Now = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	v = verdictOf(t, Evaluate(s), v1alpha1.RuleR4)
	if v.Result != v1alpha1.ComplianceFail || !strings.Contains(v.Message, "expired on 2026-12-31") {
		t.Errorf("expired: %s %q, want Fail saying the exception expired", v.Result, v.Message)
	}
	// An exception for a rule that passes changes nothing.
	rp.Spec.Exceptions = []v1alpha1.Exception{{Rule: v1alpha1.RuleO7, Reason: "Not needed", Expires: "2026-12-31"}}
	if v := verdictOf(t, Evaluate(s), v1alpha1.RuleO7); v.Result != v1alpha1.CompliancePass {
		t.Errorf("an exception made a passing rule %s", v.Result)
	}
}

func TestJudgedRulesAreManifestoRules(t *testing.T) {
	for _, r := range JudgedRules() {
		if !slices.Contains(v1alpha1.ManifestoRules, r) {
			t.Errorf("%s is judged but is no rule of the manifesto", r)
		}
	}
}

// The CRD's list of rule ids for spec.exceptions[].rule is v1alpha1.ManifestoRules.
func TestTheCRDKnowsTheManifestoRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "reliability.dev_reliabilityprofiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`self in \[((?:'[A-Z]-[0-9]+',?\s*)+)\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the CRD has no list of rule ids")
	}
	ids := regexp.MustCompile(`[A-Z]-[0-9]+`).FindAllString(string(m[1]), -1)
	if !slices.Equal(ids, v1alpha1.ManifestoRules) {
		t.Errorf("the CRD lists %v, v1alpha1.ManifestoRules %v", ids, v1alpha1.ManifestoRules)
	}
}

// TestPrometheusAnswersJudgeTargetsAndTheVersionMetric: with --prometheus-url, O-7 asks that the service's
// targets exist and are up, and O-8 that the declared version metric has series; a new profile has
// ScrapeGrace before either fails, and a Prometheus that cannot be read leaves both on the cluster's objects.
func TestPrometheusAnswersJudgeTargetsAndTheVersionMetric(t *testing.T) {
	created := today.Add(-time.Hour)
	tests := []struct {
		name         string
		scrape       *Scrape
		now          time.Time
		o7, o8       v1alpha1.ComplianceResult
		o7Msg, o8Msg string
	}{
		{"scraped, all up", &Scrape{Targets: 3, TargetsUp: 3, VersionMetricSeries: true}, today,
			v1alpha1.CompliancePass, v1alpha1.CompliancePass, "3 target(s) of it, all up", "Prometheus has series of it"},
		{"one target down", &Scrape{Targets: 3, TargetsUp: 2, VersionMetricSeries: true}, today,
			v1alpha1.ComplianceFail, v1alpha1.CompliancePass, "1 of 3 scrape targets of the service are down", "has series"},
		{"not scraped at all", &Scrape{}, today,
			v1alpha1.ComplianceFail, v1alpha1.ComplianceFail, `no up{namespace="shop",service="checkout"}`, `no series checkout_build_info{namespace="shop",service="checkout"}`},
		{"not scraped yet", &Scrape{}, created.Add(2 * time.Minute),
			v1alpha1.ComplianceUnknown, v1alpha1.ComplianceUnknown, "no target of the service yet", "no series of it yet"},
		{"Prometheus unreachable", &Scrape{Err: "connection refused"}, today,
			v1alpha1.CompliancePass, v1alpha1.CompliancePass, "targets were not read: connection refused", "was not read: connection refused"},
		{"without --prometheus-url", nil, today,
			v1alpha1.CompliancePass, v1alpha1.CompliancePass, "declare port 8067", "ServiceVersionMetricAbsent alerts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := profile()
			rp.CreationTimestamp = metav1.NewTime(created)
			verdicts := Evaluate(Snapshot{Profile: rp, PDB: healthyPDB(), Cluster: cluster(), Scrape: tt.scrape, Now: tt.now})
			for _, c := range []struct {
				rule string
				want v1alpha1.ComplianceResult
				msg  string
			}{{v1alpha1.RuleO7, tt.o7, tt.o7Msg}, {v1alpha1.RuleO8, tt.o8, tt.o8Msg}} {
				if v := verdictOf(t, verdicts, c.rule); v.Result != c.want || !strings.Contains(v.Message, c.msg) {
					t.Errorf("%s: %s %q, want %s mentioning %q", c.rule, v.Result, v.Message, c.want, c.msg)
				}
			}
		})
	}
}

// A service still not scraped is looked at again when its grace ends, though Prometheus' answer stays the
// same and so causes no reconcile of its own.
func TestTheEndOfTheScrapeGraceIsANextChange(t *testing.T) {
	rp := profile()
	rp.Spec.DisasterRecovery.LastRestoreTest = ""
	rp.CreationTimestamp = metav1.NewTime(today.Add(-time.Minute))
	s := Snapshot{Profile: rp, PDB: healthyPDB(), Cluster: cluster(), Scrape: &Scrape{}, Now: today}
	if next := NextChange(s); !next.Equal(rp.CreationTimestamp.Add(ScrapeGrace)) {
		t.Errorf("next change %s, want the end of the grace %s", next, rp.CreationTimestamp.Add(ScrapeGrace))
	}
	s.Scrape = &Scrape{Targets: 1, TargetsUp: 1, VersionMetricSeries: true}
	if next := NextChange(s); !next.IsZero() {
		t.Errorf("next change %s for a scraped service, want none", next)
	}
}

// R-3 asks for game days; a restore drill was the only record the operator read before spec.gameDays. Either
// counts when it is current, and an overdue one is named even when the other passes.
func TestGameDaysCountForR3AsRestoreDrillsDo(t *testing.T) {
	held := func(end string) *v1alpha1.GameDaySpec {
		return &v1alpha1.GameDaySpec{Cadence: "30d", Held: []v1alpha1.GameDay{{Name: "db-failover", Start: "2026-11-20T10:00:00Z", End: end}}}
	}
	tests := []struct {
		name    string
		drill   string
		games   *v1alpha1.GameDaySpec
		now     time.Time
		want    v1alpha1.ComplianceResult
		message string
		next    time.Time
	}{
		{"a game day within the cadence passes without a restore drill", "", held("2026-11-20T12:00:00Z"), today,
			v1alpha1.CompliancePass, "Last game day db-failover ended on 2026-11-20; the next is due on 2026-12-20.", time.Date(2026, 12, 20, 12, 0, 0, 0, time.UTC)},
		{"a game day past the cadence fails without a restore drill", "", held("2026-10-20T12:00:00Z"), today,
			v1alpha1.ComplianceFail, "longer ago than the cadence of 30d: one was due on 2026-11-19", time.Time{}},
		{"declared game days with none held fail", "", &v1alpha1.GameDaySpec{Cadence: "30d"}, today,
			v1alpha1.ComplianceFail, "No game day recorded", time.Time{}},
		{"a current restore drill passes, naming the overdue game day", "2026-11-01", held("2026-10-20T12:00:00Z"), today,
			v1alpha1.CompliancePass, "The last game day, db-failover, ended on 2026-10-20", time.Date(2027, 1, 30, 0, 0, 0, 0, time.UTC)},
		{"a current game day passes, naming the overdue restore drill", "2026-11-01", held("2027-01-25T12:00:00Z"), time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC),
			v1alpha1.CompliancePass, "The last restore drill, on 2026-11-01, is older than 90d", time.Date(2027, 2, 24, 12, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := profile()
			rp.Spec.DisasterRecovery.LastRestoreTest = tt.drill
			rp.Spec.GameDays = tt.games
			if tt.games != nil && len(tt.games.Held) > 0 {
				rp.Spec.GameDays.Held[0].Start = tt.games.Held[0].End[:11] + "10:00:00Z"
			}
			s := Snapshot{Profile: rp, PDB: healthyPDB(), Cluster: cluster(), Now: tt.now}
			if v := verdictOf(t, Evaluate(s), v1alpha1.RuleR3); v.Result != tt.want || !strings.Contains(v.Message, tt.message) {
				t.Errorf("R-3: %s %q, want %s mentioning %q", v.Result, v.Message, tt.want, tt.message)
			}
			if next := NextChange(s); !next.Equal(tt.next) {
				t.Errorf("next change %s, want %s", next, tt.next)
			}
		})
	}
}
