package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// benchOperatorUser is the user the benchmarked operator authenticates as, which the API server's audit
// log records, so that its requests are told from the benchmark's own.
const benchOperatorUser = "reliability-operator"

// BenchmarkComplianceMemory measures the operator as users run it: the binary built from main.go, in its
// own process, against a control plane holding 1,000 profiles in 10 namespaces beside 20,000 unrelated pods
// in another one, with compliance judged for every profile (issue 11, item 5: within 150 MB; no request
// when nothing changes). Every other profile has a Deployment whose pods it selects (container port 8067,
// a secret read through valueFrom) and a Service to it, so that S-2, S-3 and O-7 judge real objects; one in
// ten of those writes a token literally and is exposed by a NodePort, and fails them. It reports
//
//   - peak-RSS-MiB and end-RSS-MiB: the operator process's VmHWM and VmRSS, at the end, and
//     end-RSS-file-MiB: how much of that is the binary's own pages (RssFile);
//   - heap-inuse-MiB: go_memstats_heap_inuse_bytes on the operator's /metrics, after the idle minute, and
//     peak-heap-inuse-MiB: the most of it seen, read every 15 seconds (as Prometheus would) meanwhile;
//   - converge-s: from the first profile created until every profile has status.complianceSummary and
//     observedGeneration == generation; settle-s: until, besides, the work queue is empty and no reconcile
//     ran for 10 seconds, when the idle minute starts; settle-cpu-s and settle-GCs: the operator's CPU time
//     and garbage collections until then (what a GOMEMLIMIT costs);
//   - idle-requests/min: the requests of the operator's client (rest_client_requests_total on its
//     /metrics) during a minute once converged, and idle-audited/min: the same counted at the API server,
//     from its audit log of the operator's user; idle-reconciles/min: its reconciles meanwhile;
//   - converge-requests and converge-audited: the same two counts from the operator's start until
//     converged, which agree when the audit log counts what it should.
//
// OPERATOR_GOMEMLIMIT, when set, is the operator process's GOMEMLIMIT. Run by hand (it takes about 5
// minutes on 2 cores); `make test` runs no benchmark:
//
//	go test ./internal/operator -run '^$' -bench ComplianceMemory -benchtime 1x -timeout 40m -v
//	OPERATOR_GOMEMLIMIT=96MiB go test ./internal/operator -run '^$' -bench ComplianceMemory -benchtime 1x -timeout 40m -v
func BenchmarkComplianceMemory(b *testing.B) {
	const profiles, namespaces, pods = 1000, 10, 20000
	ctrl.SetLogger(logr.Discard()) // envtest's own messages
	dir := b.TempDir()
	binary, err := testenv.BuildOperator(dir)
	if err != nil {
		b.Fatal(err)
	}
	auditLog := filepath.Join(dir, "audit.log")
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(testenv.AuditPolicy(benchOperatorUser)), 0o644); err != nil {
		b.Fatal(err)
	}
	env, cfg, err := testenv.StartWithAPIServerFlags(map[string]string{"audit-policy-file": policy, "audit-log-path": auditLog,
		"service-cluster-ip-range": "10.0.0.0/16"}) // envtest's /24 holds 254 Services, not 500
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	scheme, err := operator.NewScheme()
	if err != nil {
		b.Fatal(err)
	}
	admin, err := client.New(rest.CopyConfig(cfg), client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range namespaces {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("team-%d", i)}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "unrelated"}}); err != nil {
		b.Fatal(err)
	}
	batch := make([]*corev1.Pod, 0, 500)
	for i := range pods {
		batch = append(batch, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("pod-%d", i), Namespace: "unrelated",
			Labels: map[string]string{"app": fmt.Sprintf("app-%d", i%100)}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app:1",
				Env: []corev1.EnvVar{{Name: "DB_PASSWORD", Value: "literal"}}}}}})
		if len(batch) == cap(batch) || i == pods-1 {
			if err := testenv.CreatePodsAtOnce(ctx, admin, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	var workloads []client.Object
	for i := 0; i < profiles; i += 2 {
		workloads = append(workloads, benchWorkload(i, fmt.Sprintf("team-%d", i%namespaces))...)
	}
	createAll(b, admin, workloads)

	op := startOperatorBinary(b, env, binary, dir)
	start := time.Now()
	var created []client.Object
	for i := range profiles {
		created = append(created, &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: fmt.Sprintf("team-%d", i%namespaces)},
			Spec: v1alpha1.ReliabilityProfileSpec{Service: fmt.Sprintf("svc-%d", i), Tier: v1alpha1.TierNonCritical,
				Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("svc-%d", i)}}, Network: &v1alpha1.NetworkSpec{}}})
	}
	createAll(b, admin, created)
	var peakHeap float64
	var scraped time.Time
	for ; ; time.Sleep(2 * time.Second) {
		if time.Since(scraped) > 15*time.Second { // as often as Prometheus would scrape it, not more
			scraped = time.Now()
			peakHeap = max(peakHeap, metric(b, op, "go_memstats_heap_inuse_bytes"))
		}
		list := &v1alpha1.ReliabilityProfileList{}
		if err := admin.List(ctx, list); err != nil {
			b.Fatal(err)
		}
		judged := 0
		for _, rp := range list.Items {
			if rp.Status.ComplianceSummary != "" && rp.Status.ObservedGeneration == rp.Generation {
				judged++
			}
		}
		if judged == profiles {
			break
		}
		if time.Since(start) > 20*time.Minute {
			b.Fatalf("%d of %d profiles judged after 20 minutes; the operator's log: %s", judged, profiles, op.Log)
		}
	}
	converged := time.Since(start)
	convergeRequests, convergeAudited := metric(b, op, "rest_client_requests_total"), auditedRequests(b, auditLog, op.Started, time.Now())
	// Judged is not done: the queue still holds the reconciles that the last status writes and children's
	// events asked for. Idle starts once it is empty and no reconcile ran for 10 seconds.
	if _, err := op.WaitSettled(10*time.Second, 30*time.Minute-time.Since(start)); err != nil {
		b.Fatal(err)
	}
	settled := time.Since(start)
	cpu, gcs := metric(b, op, "process_cpu_seconds_total"), metric(b, op, "go_gc_duration_seconds_count")
	requestsBefore, reconcilesBefore, idleFrom := metric(b, op, "rest_client_requests_total"), metric(b, op, "controller_runtime_reconcile_total"), time.Now()
	time.Sleep(time.Minute)
	idleTo := time.Now()
	idle := metric(b, op, "rest_client_requests_total") - requestsBefore
	idleReconciles := metric(b, op, "controller_runtime_reconcile_total") - reconcilesBefore
	audited := auditedRequests(b, auditLog, idleFrom, idleTo)

	b.ReportMetric(procStatus(b, op, "VmHWM"), "peak-RSS-MiB")
	b.ReportMetric(procStatus(b, op, "VmRSS"), "end-RSS-MiB")
	b.ReportMetric(procStatus(b, op, "RssFile"), "end-RSS-file-MiB") // of that, the binary's pages
	b.ReportMetric(metric(b, op, "go_memstats_heap_inuse_bytes")/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(max(peakHeap, metric(b, op, "go_memstats_heap_inuse_bytes"))/(1<<20), "peak-heap-inuse-MiB")
	b.ReportMetric(converged.Seconds(), "converge-s")
	b.ReportMetric(settled.Seconds(), "settle-s")
	b.ReportMetric(cpu, "settle-cpu-s")
	b.ReportMetric(gcs, "settle-GCs")
	b.ReportMetric(idleReconciles, "idle-reconciles/min")
	b.ReportMetric(convergeRequests, "converge-requests")
	b.ReportMetric(float64(len(convergeAudited)), "converge-audited") // the audit log's count of the same, as a check of it
	b.ReportMetric(idle, "idle-requests/min")
	b.ReportMetric(float64(len(audited)), "idle-audited/min")
	for _, r := range audited {
		b.Log("Request during the idle minute:", r)
	}
	b.Logf("GOMEMLIMIT=%q; the operator's log: %s", os.Getenv("OPERATOR_GOMEMLIMIT"), op.Log)
}

// benchWorkload is the Deployment and Service of profile i's service: its pods, which the profile selects,
// declare port 8067 and read a password from a Secret; every tenth one also writes a token literally and
// is exposed by a NodePort Service.
func benchWorkload(i int, namespace string) []client.Object {
	name := fmt.Sprintf("svc-%d", i)
	labels := map[string]string{"app": name}
	env := []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "password"}}}}
	serviceType := corev1.ServiceTypeClusterIP
	if i%20 == 0 {
		env = append(env, corev1.EnvVar{Name: "API_TOKEN", Value: "literal"})
		serviceType = corev1.ServiceTypeNodePort
	}
	return []client.Object{
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "app", Image: "app:1", Env: env,
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 8067}},
			}}}},
		}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}, Spec: corev1.ServiceSpec{
			Type: serviceType, Selector: labels,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 8067, TargetPort: intstr.FromString("metrics")}},
		}},
	}
}

// createAll creates the objects, 200 at a time.
func createAll(b *testing.B, c client.Client, objs []client.Object) {
	b.Helper()
	if err := testenv.Concurrently(objs, 200, func(obj client.Object) error { return c.Create(context.Background(), obj) }); err != nil {
		b.Fatal(err)
	}
}

// startOperatorBinary runs the operator's binary as benchOperatorUser until the benchmark ends.
func startOperatorBinary(b *testing.B, env *envtest.Environment, binary, dir string) *testenv.OperatorProcess {
	b.Helper()
	var extraEnv []string
	if limit := os.Getenv("OPERATOR_GOMEMLIMIT"); limit != "" {
		extraEnv = append(extraEnv, "GOMEMLIMIT="+limit)
	}
	op, err := testenv.StartOperator(env, binary, dir, benchOperatorUser, nil, extraEnv)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(op.Stop)
	return op
}

// metric is the sum of a metric's samples on the operator's /metrics.
func metric(b *testing.B, op *testenv.OperatorProcess, name string) float64 {
	b.Helper()
	v, err := op.Metric(name)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// procStatus is a memory figure of the operator process's /proc/<pid>/status, in MiB.
func procStatus(b *testing.B, op *testenv.OperatorProcess, field string) float64 {
	b.Helper()
	v, err := op.ProcStatus(field)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// auditedRequests are the operator's requests that the API server received between from and to.
func auditedRequests(b *testing.B, path string, from, to time.Time) []testenv.AuditedRequest {
	b.Helper()
	out, err := testenv.AuditedRequests(path, benchOperatorUser, from, to)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
