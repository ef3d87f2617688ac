package operator_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestO7AndO8AskPrometheusWhetherTheServiceIsScraped runs the operator with --prometheus-url against a real
// Prometheus that really scrapes: checkout's one target serves its version metric; of search's two targets
// one serves metrics without the declared version metric and the other refuses connections. Both services
// have a Deployment declaring port 8067 and a Service exposing it, so the cluster's objects pass O-7 before
// Prometheus answers; then checkout passes O-7 and O-8 on Prometheus' word, and search fails O-7 with the
// Event and the series, while its missing version metric is Unknown within the grace of a new profile.
func TestO7AndO8AskPrometheusWhetherTheServiceIsScraped(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	const ns = "scraped"
	addr := testenv.FreeAddress(t)
	ctx, c := startOperator(t, cfg, operator.Options{PrometheusURL: "http://" + addr, PrometheusInterval: time.Second})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"checkout", "search"} {
		for _, obj := range servedWorkload(ns, service) {
			if err := c.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		rp := sloProfile(service)
		rp.Namespace = ns
		rp.Spec.Metrics.VersionMetric = service + "_build_info"
		if err := c.Create(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	// Prometheus' start, its discovery and first scrapes take longer than the package's usual wait.
	waitFor := func(what, name, rule string, want v1alpha1.ComplianceResult, contains string) {
		t.Helper()
		waitForWithin(t, 60*time.Second, what, verdictOf(ctx, c, ns, name, rule, want, contains))
	}
	// Prometheus is not there yet: the verdict rests on the cluster's objects and says what was not read.
	waitFor("before Prometheus", "search", v1alpha1.RuleO7, v1alpha1.CompliancePass, "targets were not read")

	checkout := metricsServer(t, "checkout_build_info{version=\"1.4.2\"} 1\n")
	search := metricsServer(t, "search_requests_total 7\n")
	refusing := testenv.FreeAddress(t) // nothing listens there
	testenv.StartPrometheusScraping(t, addr, "", nil,
		testenv.ScrapeJob{Name: "checkout", Targets: []string{checkout}, Labels: map[string]string{"namespace": ns, "service": "checkout"}},
		testenv.ScrapeJob{Name: "search", Targets: []string{search, refusing}, Labels: map[string]string{"namespace": ns, "service": "search"}})

	waitFor("scraped", "checkout", v1alpha1.RuleO7, v1alpha1.CompliancePass, "Prometheus scrapes 1 target(s) of it, all up")
	waitFor("version metric present", "checkout", v1alpha1.RuleO8, v1alpha1.CompliancePass, "Prometheus has series of it")
	waitFor("a target down", "search", v1alpha1.RuleO7, v1alpha1.ComplianceFail, "1 of 2 scrape targets of the service are down")
	waitFor("version metric absent", "search", v1alpha1.RuleO8, v1alpha1.ComplianceUnknown, "no series of it yet")

	// The Event is of the change to Fail; Prometheus may have scraped only the refusing target by then ("1 of
	// 1"), the answering one a moment later, which keeps the result and so sends no second Event. The verdict
	// above says 1 of 2. Events are sent apart from the status, so it may come a moment after the verdict.
	turnedFail := regexp.MustCompile(`→ Fail: 1 of [12] scrape targets of the service are down`)
	pollUntil(t, "the Event of search's O-7 turning Fail", func() error {
		events := &eventsv1.EventList{}
		if err := c.List(ctx, events, client.InNamespace(ns)); err != nil {
			return err
		}
		var notes []string
		for _, e := range events.Items {
			notes = append(notes, e.Note)
		}
		if !turnedFail.MatchString(strings.Join(notes, "\n")) {
			return fmt.Errorf("no Event of search's O-7 turning Fail among %q", notes)
		}
		return nil
	})
	if got := ruleResults(t, ns, "search", v1alpha1.RuleO7); got != "Fail" {
		t.Errorf("reliability_operator_rule_result of search's O-7: %s, want only Fail", got)
	}
}

// servedWorkload is a Deployment whose pods declare the metrics port and a Service exposing it.
func servedWorkload(ns, service string) []client.Object {
	labels := map[string]string{"app": service}
	return []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "app:1", Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 8067}}}}}},
		}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: service, Namespace: ns}, Spec: corev1.ServiceSpec{Selector: labels,
			Ports: []corev1.ServicePort{{Name: "metrics", Port: 8067, TargetPort: intstr.FromString("metrics")}}}},
	}
}

// metricsServer serves the exposition text on /metrics and returns its host:port.
func metricsServer(t *testing.T, exposition string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = fmt.Fprint(w, exposition)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// ruleResults lists the results the operator's reliability_operator_rule_result has for a profile's rule.
func ruleResults(t *testing.T, ns, profile, rule string) string {
	t.Helper()
	samples, err := testenv.Samples("reliability_operator_rule_result")
	if err != nil {
		t.Fatal(err)
	}
	var results []string
	for _, s := range samples {
		l := s.Labels
		if l["namespace"] == ns && l["profile"] == profile && l["rule"] == rule && s.Value == 1 {
			results = append(results, l["result"])
		}
	}
	return strings.Join(results, ",")
}
