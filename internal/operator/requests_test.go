package operator_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestAReconcileOfAnUnchangedProfileWithAFlowSendsNoRequest runs the operator with logging-operator
// ClusterOutputs, so that each profile has a Flow: a kind outside the scheme, read as unstructured objects.
// A Deployment change enqueues the profile without changing anything it renders; the reconcile that follows
// must read the profile, its children (the Flow included) and the workloads from the cache and send nothing.
func TestAReconcileOfAnUnchangedProfileWithAFlowSendsNoRequest(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, c, requests := startCountedOperator(t, cfg, operator.Options{Render: render.Options{
		LoggingClusterOutputs: map[v1alpha1.Tier]string{v1alpha1.TierCritical: "logs-30d", v1alpha1.TierNonCritical: "logs-7d"}}})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": "checkout"}
	deployment := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "checkout", Namespace: "shop", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "checkout:1"}}},
			},
		},
	}
	if err := c.Create(ctx, deployment); err != nil {
		t.Fatal(err)
	}
	rp := sloProfile("checkout")
	if err := c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "the profile is Ready", func() error {
		live := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
			return err
		}
		if r := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ReadyCondition); r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != live.Generation {
			return fmt.Errorf("Ready = %+v at generation %d", r, live.Generation)
		}
		return nil
	})
	// The log does see the operator's Flow requests: the Flow was created through it.
	if !requests.any(func(r string) bool { return strings.HasPrefix(r, "PATCH ") && strings.Contains(r, "/flows/") }) {
		t.Fatalf("no request creating the Flow was counted; the operator's requests were %v", requests.since(0))
	}
	requests.quiet(t, 2*time.Second)

	from, reconciles := requests.len(), testenv.ReconcileCount(t)
	deployment.Spec.MinReadySeconds = 5 // a new generation, and nothing the profile's children or verdicts depend on
	if err := c.Update(ctx, deployment); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, "a reconcile after the Deployment change", func() error {
		if testenv.ReconcileCount(t) <= reconciles {
			return fmt.Errorf("no reconcile yet")
		}
		return nil
	})
	requests.quiet(t, 2*time.Second)
	if sent := requests.since(from); len(sent) != 0 {
		t.Errorf("the reconcile of an unchanged profile sent %d requests, want none:\n%s", len(sent), strings.Join(sent, "\n"))
	}
}

// startCountedOperator runs the operator with every request it sends recorded in the log, and returns a
// client of the test's own, whose requests the log does not see.
func startCountedOperator(t *testing.T, cfg *rest.Config, o operator.Options) (context.Context, client.Client, *requestLog) {
	t.Helper()
	requests := &requestLog{}
	opCfg := rest.CopyConfig(cfg)
	opCfg.Wrap(requests.wrap)
	ctx, _ := startOperator(t, opCfg, o)
	c, err := client.New(cfg, client.Options{Scheme: mustScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c, requests
}

// requestLog records every request the operator sends, as "METHOD path?query".
type requestLog struct {
	mu   sync.Mutex
	sent []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.sent = append(l.sent, r.Method+" "+r.URL.RequestURI())
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

func (l *requestLog) since(from int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.sent[from:]...)
}

func (l *requestLog) any(match func(string) bool) bool {
	for _, r := range l.since(0) {
		if match(r) {
			return true
		}
	}
	return false
}

// quiet waits until the operator has sent no request for the given time, failing after a minute.
func (l *requestLog) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	last, quietSince := l.len(), time.Now()
	pollUntil(t, "the operator's requests settle", func() error {
		if n := l.len(); n != last {
			last, quietSince = n, time.Now()
		}
		if time.Since(quietSince) < d {
			return fmt.Errorf("%d requests, the last less than %s ago", last, d)
		}
		return nil
	})
}

// TestAProfileChangeCostsOneRequestPerChangedChild counts what the operator sends for config/samples'
// checkout profile (issue 13): its creation costs one request per child (a create that reads nothing first)
// and one status write, and a change of its objective one apply of the PrometheusRule and one status
// write. Neither asks discovery, and the events of the operator's own writes of the children reconcile the
// profile no second time.
func TestAProfileChangeCostsOneRequestPerChangedChild(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, c, requests := startCountedOperator(t, cfg, operator.Options{})
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
		t.Fatal(err)
	}
	requests.quiet(t, 2*time.Second)
	manifest, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "reliability_v1alpha1_reliabilityprofile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rp := &v1alpha1.ReliabilityProfile{}
	if err := yaml.UnmarshalStrict(manifest, rp); err != nil {
		t.Fatal(err)
	}
	rp.Namespace = "shop"

	// readyAt waits until the profile's status is that of its generation, and returns its children.
	readyAt := func() []v1alpha1.ChildStatus {
		live := &v1alpha1.ReliabilityProfile{}
		pollUntil(t, "the profile is Ready", func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
				return err
			}
			if r := meta.FindStatusCondition(live.Status.Conditions, v1alpha1.ReadyCondition); r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != live.Generation {
				return fmt.Errorf("Ready = %+v at generation %d", r, live.Generation)
			}
			return nil
		})
		requests.quiet(t, 2*time.Second)
		return live.Status.Resources
	}
	// check compares the requests sent since from, without the watches' and the Events', with want ("PATCH prometheusrules").
	check := func(what string, from int, want []string) {
		t.Helper()
		var got []string
		for _, r := range requests.since(from) {
			method, uri, _ := strings.Cut(r, " ")
			path, query, _ := strings.Cut(uri, "?")
			if method == http.MethodGet && strings.Contains(query, "watch=true") || strings.Contains(path, "/events") {
				continue // a watch the informers renew on their own; the Events of the verdicts, sent apart
			}
			parts := strings.Split(strings.Trim(path, "/"), "/")
			resource := parts[len(parts)-2] // .../<resource>/<name>
			if parts[len(parts)-1] == "status" {
				resource = parts[len(parts)-3] + "/status"
			}
			got = append(got, method+" "+resource)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s sent %v, want %v; all requests:\n%s", what, got, want, strings.Join(requests.since(from), "\n"))
		}
	}

	from, reconciles := requests.len(), testenv.ReconcileCount(t)
	if err := c.Create(ctx, rp); err != nil {
		t.Fatal(err)
	}
	children := readyAt()
	want := []string{"PATCH reliabilityprofiles/status"}
	for _, ch := range children {
		gv, err := schema.ParseGroupVersion(ch.APIVersion)
		if err != nil {
			t.Fatal(err)
		}
		mapping, err := c.RESTMapper().RESTMapping(gv.WithKind(ch.Kind).GroupKind(), gv.Version)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, "PATCH "+mapping.Resource.Resource)
	}
	if len(children) < 4 {
		t.Fatalf("the sample has %d children, want at least 4: %+v", len(children), children)
	}
	check("creating the profile", from, want)
	if n := testenv.ReconcileCount(t) - reconciles; n != 1 {
		t.Errorf("creating the profile took %v reconciles, want 1", n)
	}

	from, reconciles = requests.len(), testenv.ReconcileCount(t)
	if err := c.Get(ctx, client.ObjectKeyFromObject(rp), rp); err != nil {
		t.Fatal(err)
	}
	rp.Spec.SLOs[0].Objective = "99.95"
	if err := c.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	readyAt()
	check("changing the objective", from, []string{"PATCH prometheusrules", "PATCH reliabilityprofiles/status"})
	if n := testenv.ReconcileCount(t) - reconciles; n != 1 {
		t.Errorf("changing the objective took %v reconciles, want 1", n)
	}
}
