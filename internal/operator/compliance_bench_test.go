package operator_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
	binary := buildOperator(b, dir)
	auditLog := filepath.Join(dir, "audit.log")
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
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
			peakHeap = max(peakHeap, op.metric(b, "go_memstats_heap_inuse_bytes"))
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
			b.Fatalf("%d of %d profiles judged after 20 minutes; the operator's log: %s", judged, profiles, op.log)
		}
	}
	converged := time.Since(start)
	convergeRequests, convergeAudited := op.metric(b, "rest_client_requests_total"), auditedRequests(b, auditLog, op.started, time.Now())
	// Judged is not done: the queue still holds the reconciles that the last status writes and children's
	// events asked for. Idle starts once it is empty and no reconcile ran for 10 seconds.
	for reconciles, since := op.metric(b, "controller_runtime_reconcile_total"), time.Now(); ; time.Sleep(2 * time.Second) {
		now := op.metric(b, "controller_runtime_reconcile_total")
		if now != reconciles || op.metric(b, "workqueue_depth") != 0 {
			reconciles, since = now, time.Now()
		} else if time.Since(since) >= 10*time.Second {
			break
		}
		if time.Since(start) > 30*time.Minute {
			b.Fatalf("still reconciling 30 minutes after the first profile; the operator's log: %s", op.log)
		}
	}
	settled := time.Since(start)
	cpu, gcs := op.metric(b, "process_cpu_seconds_total"), op.metric(b, "go_gc_duration_seconds_count")
	requestsBefore, reconcilesBefore, idleFrom := op.metric(b, "rest_client_requests_total"), op.metric(b, "controller_runtime_reconcile_total"), time.Now()
	time.Sleep(time.Minute)
	idleTo := time.Now()
	idle := op.metric(b, "rest_client_requests_total") - requestsBefore
	idleReconciles := op.metric(b, "controller_runtime_reconcile_total") - reconcilesBefore
	audited := auditedRequests(b, auditLog, idleFrom, idleTo)

	b.ReportMetric(op.status(b, "VmHWM"), "peak-RSS-MiB")
	b.ReportMetric(op.status(b, "VmRSS"), "end-RSS-MiB")
	b.ReportMetric(op.status(b, "RssFile"), "end-RSS-file-MiB") // of that, the binary's pages
	b.ReportMetric(op.metric(b, "go_memstats_heap_inuse_bytes")/(1<<20), "heap-inuse-MiB")
	b.ReportMetric(max(peakHeap, op.metric(b, "go_memstats_heap_inuse_bytes"))/(1<<20), "peak-heap-inuse-MiB")
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
	b.Logf("GOMEMLIMIT=%q; the operator's log: %s", os.Getenv("OPERATOR_GOMEMLIMIT"), op.log)
}

// auditPolicy records the metadata of the benchmarked operator's requests, once each when its response
// starts (watches) or completes, and nothing of anyone else's.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [` + benchOperatorUser + `]
- level: None
`

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
	var wg sync.WaitGroup
	for i, obj := range objs {
		wg.Go(func() {
			if err := c.Create(context.Background(), obj); err != nil {
				b.Error(err)
			}
		})
		if i%200 == 199 {
			wg.Wait()
		}
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
}

// buildOperator builds the operator's binary from main.go into dir.
func buildOperator(b *testing.B, dir string) string {
	b.Helper()
	binary := filepath.Join(dir, "reliability-operator")
	// As the Dockerfile builds the image's binary: static, trimmed paths, no symbol table or DWARF.
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", binary, ".")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return binary
}

// operatorProcess is the operator's binary running as a process of its own.
type operatorProcess struct {
	cmd        *exec.Cmd
	started    time.Time
	metricsURL string
	log        string // the file of its standard output and error
}

// startOperatorBinary runs the operator's binary as the benchmark's operator user, as `make run` does (no
// leader election, no webhook), with its metrics and probes on free loopback ports, and waits until it
// is ready. It is stopped when the benchmark ends.
func startOperatorBinary(b *testing.B, env *envtest.Environment, binary, dir string) *operatorProcess {
	b.Helper()
	user, err := env.AddUser(envtest.User{Name: benchOperatorUser, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		b.Fatal(err)
	}
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfig, 0o600); err != nil {
		b.Fatal(err)
	}
	metrics, probes := testenv.FreeAddress(b), testenv.FreeAddress(b)
	cmd := exec.Command(binary, "--metrics-bind-address="+metrics, "--health-probe-bind-address="+probes,
		"--leader-elect=false", "--validating-webhook=false")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	if limit := os.Getenv("OPERATOR_GOMEMLIMIT"); limit != "" {
		cmd.Env = append(cmd.Env, "GOMEMLIMIT="+limit)
	}
	logPath := filepath.Join(dir, "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
	})
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(time.Second) {
		select {
		case err := <-exited:
			b.Fatalf("the operator exited: %v; its log: %s", err, logPath)
		default:
		}
		if _, err := httpGet("http://" + probes + "/readyz"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the operator was not ready after 5 minutes; its log: %s", logPath)
		}
	}
	return &operatorProcess{cmd: cmd, started: started, metricsURL: "http://" + metrics + "/metrics", log: logPath}
}

// metric is the sum of the samples of a metric on the operator's /metrics, over all their labels.
func (p *operatorProcess) metric(b *testing.B, name string) float64 {
	b.Helper()
	text, err := httpGet(p.metricsURL)
	if err != nil {
		b.Fatal(err)
	}
	var sum float64
	found := false
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			b.Fatalf("%s: %v", line, err)
		}
		sum, found = sum+v, true
	}
	if !found {
		b.Fatalf("no %s on the operator's /metrics", name)
	}
	return sum
}

// status is a memory figure of the operator process's /proc/<pid>/status (VmHWM, VmRSS), in MiB.
func (p *operatorProcess) status(b *testing.B, field string) float64 {
	b.Helper()
	text, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
	return 0
}

func httpGet(url string) (string, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(body), nil
}

// auditedRequests are the operator's requests that the API server received between from and to, by its
// audit log ("GET /api/v1/...").
func auditedRequests(b *testing.B, path string, from, to time.Time) []string {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	seen := map[string]bool{}
	var out []string
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<24)
	for lines.Scan() {
		var event struct {
			AuditID                  string    `json:"auditID"`
			Verb                     string    `json:"verb"`
			RequestURI               string    `json:"requestURI"`
			RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
			User                     struct {
				Username string `json:"username"`
			} `json:"user"`
		}
		if err := json.Unmarshal(lines.Bytes(), &event); err != nil {
			b.Fatal(err)
		}
		received := event.RequestReceivedTimestamp
		if event.User.Username != benchOperatorUser || seen[event.AuditID] || received.Before(from) || !received.Before(to) {
			continue
		}
		seen[event.AuditID] = true
		out = append(out, event.Verb+" "+event.RequestURI)
	}
	if err := lines.Err(); err != nil {
		b.Fatal(err)
	}
	return out
}
