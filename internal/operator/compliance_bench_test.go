package operator_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// BenchmarkComplianceMemory measures the operator's heap, with compliance judged for every profile, at
// 1,000 profiles in 10 namespaces beside 20,000 unrelated pods, and counts the operator's requests over an
// idle minute once every profile is judged (issue 11, item 5: within 150 MB; no request when nothing
// changes). Run by hand, it takes a few minutes:
//
//	go test ./internal/operator -run '^$' -bench ComplianceMemory -benchtime 1x -timeout 30m
func BenchmarkComplianceMemory(b *testing.B) {
	const profiles, namespaces, pods = 1000, 10, 20000
	env, cfg, err := testenv.Start()
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

	var requests atomic.Int64
	counted := rest.CopyConfig(cfg)
	counted.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTrip(func(r *http.Request) (*http.Response, error) { requests.Add(1); return rt.RoundTrip(r) })
	}
	mgr, err := operator.New(counted, operator.Options{MetricsAddress: "0", ProbeAddress: "0", SeveralInOneProcess: true})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = mgr.Start(runCtx) })
	b.Cleanup(func() { cancel(); wg.Wait() })

	start := time.Now()
	var wg2 sync.WaitGroup
	for i := range profiles {
		rp := &v1alpha1.ReliabilityProfile{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("svc-%d", i), Namespace: fmt.Sprintf("team-%d", i%namespaces)},
			Spec: v1alpha1.ReliabilityProfileSpec{Service: fmt.Sprintf("svc-%d", i), Tier: v1alpha1.TierNonCritical,
				Selector: v1alpha1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("svc-%d", i)}}, Network: &v1alpha1.NetworkSpec{}}}
		wg2.Go(func() {
			if err := admin.Create(ctx, rp); err != nil {
				b.Error(err)
			}
		})
		if i%200 == 199 {
			wg2.Wait()
		}
	}
	wg2.Wait()
	for {
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
			b.Fatalf("%d of %d profiles judged after 20 minutes", judged, profiles)
		}
		time.Sleep(time.Second)
	}
	converged := time.Since(start)
	time.Sleep(10 * time.Second) // let requeues of the last changes pass
	before := requests.Load()
	time.Sleep(time.Minute)
	idle := requests.Load() - before

	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-MiB")
	if rss, err := peakRSS(); err == nil {
		b.ReportMetric(rss, "peak-RSS-MiB") // of the whole test process: the operator and the benchmark's own client
	}
	b.ReportMetric(converged.Seconds(), "converge-s")
	b.ReportMetric(float64(idle), "idle-requests/min")
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// peakRSS is the process's peak resident set (VmHWM), in MiB.
func peakRSS() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
