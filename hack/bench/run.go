package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// operatorUser is the user the operator authenticates as: the audit log records only its requests.
const operatorUser = "reliability-operator"

// sampleProfile is the profile every benchmarked one is a copy of: a critical service with an SLO, a
// network policy and a disruption budget, which renders a ServiceMonitor, a PrometheusRule, a NetworkPolicy
// and a PodDisruptionBudget.
const sampleProfile = "config/samples/reliability_v1alpha1_reliabilityprofile.yaml"

// updatedObjective replaces the sample's 99.9: an objective changes the PrometheusRule's thresholds and no
// other child (no dashboard is rendered without a Grafana selector). It must stay above the sample's
// externalObjective, 99.5.
const updatedObjective = "99.95"

// bench is one run: a control plane, an operator and the benchmark's own client and cache.
type bench struct {
	s        settings
	n        int
	dir      string
	auditLog string
	env      *envtest.Environment
	client   client.Client
	cache    cache.Cache
	op       *testenv.OperatorProcess
	heap     *heapSampler
}

func runOne(s settings, binary string, n int) (*Run, error) {
	dir, err := os.MkdirTemp("", fmt.Sprintf("bench-%d-", n))
	if err != nil {
		return nil, err
	}
	if s.keep {
		logf("N=%d: the audit log and the operator's log are kept in %s", n, dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	b := &bench{s: s, n: n, dir: dir, auditLog: filepath.Join(dir, "audit.log")}
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(testenv.AuditPolicy(operatorUser)), 0o644); err != nil {
		return nil, err
	}
	logf("N=%d: starting a control plane", n)
	env, cfg, err := testenv.StartWithAPIServerFlags(map[string]string{"audit-policy-file": policy, "audit-log-path": b.auditLog})
	if err != nil {
		return nil, err
	}
	b.env = env
	defer func() { _ = env.Stop() }()
	// No client-side rate limit: the yardstick measures the API server, and the profiles are created at
	// the same concurrency, so that what differs is the operator.
	cfg = rest.CopyConfig(cfg)
	cfg.QPS = -1
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	if b.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	ctx := context.Background()
	profiles, err := sampleProfiles(n, s.namespaces, "bench")
	if err != nil {
		return nil, err
	}
	r := &Run{N: n, Namespaces: s.namespaces, ChildrenPerProfile: 4, Concurrency: s.concurrency,
		Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU(), OperatorFlags: strings.Join(s.operatorFlags, " "),
		IdleSeconds: s.idle.Seconds()}
	if r.Yardstick, err = b.yardstick(ctx, s.namespaces); err != nil {
		return nil, fmt.Errorf("yardstick: %w", err)
	}
	for i := range s.namespaces {
		if err := b.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%d", i)}}); err != nil {
			return nil, err
		}
	}
	// The benchmark reads progress from a cache of its own: a watch costs the API server little, while a
	// list of every profile each second would be a load of its own beside the operator's.
	b.cache, err = cache.New(cfg, cache.Options{Scheme: scheme, DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{&monitoringv1.PrometheusRule{}: {
			Label: labels.SelectorFromSet(labels.Set{render.ManagedByLabel: render.ManagedByValue})}}})
	if err != nil {
		return nil, err
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	defer stopCache()
	go func() { _ = b.cache.Start(cacheCtx) }()
	for _, obj := range []client.Object{&v1alpha1.ReliabilityProfile{}, &monitoringv1.PrometheusRule{}} {
		if _, err := b.cache.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	if !b.cache.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the benchmark's cache did not sync")
	}

	logf("N=%d: starting the operator", n)
	startupFrom := time.Now()
	if b.op, err = testenv.StartOperator(env, binary, dir, operatorUser, s.operatorFlags, nil); err != nil {
		return nil, err
	}
	defer b.op.Stop()
	b.heap = startHeapSampler(b.op)
	defer b.heap.stop()
	before, err := b.snapshot()
	if err != nil {
		return nil, err
	}
	// Its start: discovery, the caches' lists and watches. They are counted apart, as they do not grow with
	// what changes.
	if r.Startup, err = b.phaseFrom("startup", startupFrom, operatorCounts{}, before, 0, 0); err != nil {
		return nil, err
	}
	if r.Create, err = b.createPhase(ctx, profiles); err != nil {
		return nil, fmt.Errorf("create: %w", err)
	}
	if r.Update, err = b.updatePhase(ctx, profiles); err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	if r.Idle, err = b.idlePhase(); err != nil {
		return nil, fmt.Errorf("idle: %w", err)
	}
	r.Targets = targets(r)
	return r, nil
}

// sampleProfiles are n copies of the sample profile, each naming its own service, spread over the
// namespaces <prefix>-0 .. <prefix>-(namespaces-1).
func sampleProfiles(n, namespaces int, prefix string) ([]*v1alpha1.ReliabilityProfile, error) {
	text, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), sampleProfile))
	if err != nil {
		return nil, err
	}
	out := make([]*v1alpha1.ReliabilityProfile, n)
	for i := range n {
		name := fmt.Sprintf("svc%d", i) // no "-": it names the version metric too
		rp := &v1alpha1.ReliabilityProfile{}
		// Its service's name in every query, label and URL, as a team's copy of it would have.
		if err := yaml.UnmarshalStrict([]byte(strings.ReplaceAll(string(text), "checkout", name)), rp); err != nil {
			return nil, fmt.Errorf("%s: %w", sampleProfile, err)
		}
		rp.Namespace = fmt.Sprintf("%s-%d", prefix, i%namespaces)
		out[i] = rp
	}
	return out, nil
}

// yardstick creates, with the same client and concurrency as the profiles, the children the operator will
// make of as many profiles (rendered from them, without owner and without the operator's label), in
// namespaces of their own, then deletes them before the operator starts: the bare API server's rate for
// the same writes.
func (b *bench) yardstick(ctx context.Context, namespaces int) (Yardstick, error) {
	profiles, err := sampleProfiles(b.n, namespaces, "yardstick")
	if err != nil {
		return Yardstick{}, err
	}
	var opts render.Options
	options.BindRender(flag.NewFlagSet("render", flag.ContinueOnError), &opts) // the operator's defaults
	var children []client.Object
	for _, rp := range profiles {
		objs, err := render.Render(rp, opts)
		if err != nil {
			return Yardstick{}, err
		}
		for _, obj := range objs {
			obj.SetOwnerReferences(nil)
			labels := obj.GetLabels()
			delete(labels, render.ManagedByLabel)
			obj.SetLabels(labels)
			children = append(children, obj)
		}
	}
	for i := range namespaces {
		if err := b.client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("yardstick-%d", i)}}); err != nil {
			return Yardstick{}, err
		}
	}
	logf("N=%d: yardstick: creating %d children", b.n, len(children))
	start := time.Now()
	if err := testenv.Concurrently(children, b.s.concurrency, func(obj client.Object) error { return b.client.Create(ctx, obj) }); err != nil {
		return Yardstick{}, err
	}
	took := time.Since(start)
	kinds := map[string]client.Object{}
	for _, obj := range children {
		kinds[obj.GetObjectKind().GroupVersionKind().Kind] = obj
	}
	for i := range namespaces {
		for _, obj := range kinds {
			proto := obj.DeepCopyObject().(client.Object)
			if err := b.client.DeleteAllOf(ctx, proto, client.InNamespace(fmt.Sprintf("yardstick-%d", i))); err != nil {
				return Yardstick{}, err
			}
		}
	}
	return Yardstick{Creates: len(children), Seconds: took.Seconds(), PerSecond: float64(len(children)) / took.Seconds()}, nil
}

func (b *bench) createPhase(ctx context.Context, profiles []*v1alpha1.ReliabilityProfile) (Phase, error) {
	before, err := b.snapshot()
	if err != nil {
		return Phase{}, err
	}
	from := time.Now()
	logf("N=%d: creating %d profiles", b.n, len(profiles))
	if err := testenv.Concurrently(profiles, b.s.concurrency, func(rp *v1alpha1.ReliabilityProfile) error {
		return b.client.Create(ctx, rp.DeepCopy())
	}); err != nil {
		return Phase{}, err
	}
	converged, err := b.waitConverged("create", from, nil)
	if err != nil {
		return Phase{}, err
	}
	return b.endPhase("create", from, converged, before, b.n*4)
}

func (b *bench) updatePhase(ctx context.Context, profiles []*v1alpha1.ReliabilityProfile) (Phase, error) {
	// Each rule's generation now: the update has reached a rule once its generation grew.
	rules := &monitoringv1.PrometheusRuleList{}
	if err := b.cache.List(ctx, rules, client.UnsafeDisableDeepCopy); err != nil {
		return Phase{}, err
	}
	ruleGenerations := map[types.NamespacedName]int64{}
	for _, pr := range rules.Items {
		ruleGenerations[types.NamespacedName{Namespace: pr.Namespace, Name: pr.Name}] = pr.Generation
	}
	before, err := b.snapshot()
	if err != nil {
		return Phase{}, err
	}
	from := time.Now()
	logf("N=%d: changing every profile's objective to %s", b.n, updatedObjective)
	patch := client.RawPatch(types.JSONPatchType, []byte(`[{"op":"test","path":"/spec/slos/0/objective","value":"99.9"},`+
		`{"op":"replace","path":"/spec/slos/0/objective","value":"`+updatedObjective+`"}]`))
	if err := testenv.Concurrently(profiles, b.s.concurrency, func(rp *v1alpha1.ReliabilityProfile) error {
		return b.client.Patch(ctx, rp.DeepCopy(), patch)
	}); err != nil {
		return Phase{}, err
	}
	converged, err := b.waitConverged("update", from, ruleGenerations)
	if err != nil {
		return Phase{}, err
	}
	return b.endPhase("update", from, converged, before, b.n)
}

func (b *bench) idlePhase() (Phase, error) {
	before, err := b.snapshot()
	if err != nil {
		return Phase{}, err
	}
	from := time.Now()
	logf("N=%d: idle for %s", b.n, b.s.idle)
	time.Sleep(b.s.idle)
	return b.phaseFrom("idle", from, before, operatorCounts{}, 0, 0)
}

// waitConverged waits until every profile's status is of its generation and Ready, and, when
// ruleGenerations is given, its PrometheusRule has changed since: the status is written after the
// children, so a current Ready status means they were applied, and the rule's generation checks it.
func (b *bench) waitConverged(phase string, from time.Time, ruleGenerations map[types.NamespacedName]int64) (time.Time, error) {
	ctx := context.Background()
	lastLog := time.Now()
	for ; ; time.Sleep(time.Second) {
		profiles := &v1alpha1.ReliabilityProfileList{}
		if err := b.cache.List(ctx, profiles, client.UnsafeDisableDeepCopy); err != nil {
			return time.Time{}, err
		}
		var rules map[types.NamespacedName]int64
		if ruleGenerations != nil {
			list := &monitoringv1.PrometheusRuleList{}
			if err := b.cache.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
				return time.Time{}, err
			}
			rules = map[types.NamespacedName]int64{}
			for _, pr := range list.Items {
				rules[types.NamespacedName{Namespace: pr.Namespace, Name: pr.Name}] = pr.Generation
			}
		}
		done := 0
		for i := range profiles.Items {
			rp := &profiles.Items[i]
			ready := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition)
			if rp.Status.ObservedGeneration != rp.Generation || ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != rp.Generation {
				continue
			}
			key := types.NamespacedName{Namespace: rp.Namespace, Name: rp.Name}
			if ruleGenerations != nil && rules[key] <= ruleGenerations[key] {
				continue
			}
			done++
		}
		if done == b.n {
			return time.Now(), nil
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			logf("N=%d: %s: %d of %d profiles converged after %.0fs", b.n, phase, done, b.n, time.Since(from).Seconds())
		}
		if time.Since(from) > b.s.timeout {
			return time.Time{}, fmt.Errorf("%d of %d profiles converged after %s; the operator's log: %s", done, b.n, b.s.timeout, b.op.Log)
		}
	}
}

// endPhase waits until the operator has settled, then records the phase from its start.
func (b *bench) endPhase(name string, from, converged time.Time, before operatorCounts, changedChildren int) (Phase, error) {
	settled, err := b.op.WaitSettled(b.s.quiet, b.s.timeout)
	if err != nil {
		return Phase{}, err
	}
	p, err := b.phaseFrom(name, from, before, operatorCounts{}, converged.Sub(from), settled.Sub(from))
	if err != nil {
		return Phase{}, err
	}
	p.ChangedChildren = changedChildren
	p.ChildrenPerSecond = float64(changedChildren) / p.ConvergeSeconds
	return p, nil
}

// phaseFrom records a phase that began at from, when the operator's counters were before, and ends now
// (or, for the startup, when they were after).
func (b *bench) phaseFrom(name string, from time.Time, before, after operatorCounts, converge, settle time.Duration) (Phase, error) {
	if after.requests == nil {
		var err error
		if after, err = b.snapshot(); err != nil {
			return Phase{}, err
		}
	}
	audited, err := testenv.AuditedRequests(b.auditLog, operatorUser, from, after.at)
	if err != nil {
		return Phase{}, err
	}
	p := Phase{Name: name, ConvergeSeconds: converge.Seconds(), SettleSeconds: settle.Seconds(), WallSeconds: after.at.Sub(from).Seconds(),
		Reconciles: after.reconciles - before.reconciles, Requests: map[string]Requests{}}
	for key, v := range after.requests {
		if d := v - before.requests[key]; d > 0 {
			r := p.Requests[key]
			r.Operator = d
			p.Requests[key] = r
			p.OperatorRequests += d
		}
	}
	for _, a := range audited {
		verb := a.Verb
		if a.DryRun {
			verb += "-dryrun" // as the operator's counter names it
		}
		key := verb + " " + a.Resource
		r := p.Requests[key]
		r.Audited++
		p.Requests[key] = r
		p.AuditedRequests++
	}
	if p.PeakRSSMiB, err = b.op.ProcStatus("VmHWM"); err != nil {
		return Phase{}, err
	}
	if p.RSSMiB, err = b.op.ProcStatus("VmRSS"); err != nil {
		return Phase{}, err
	}
	heap, err := b.op.Metric("go_memstats_heap_inuse_bytes")
	if err != nil {
		return Phase{}, err
	}
	p.HeapInuseMiB = heap / (1 << 20)
	p.PeakHeapInuseMiB = max(b.heap.takePeak(), heap) / (1 << 20)
	return p, nil
}

// operatorCounts are the operator's counters at one time.
type operatorCounts struct {
	at         time.Time
	requests   map[string]float64 // by "verb resource"
	reconciles float64
}

func (b *bench) snapshot() (operatorCounts, error) {
	at := time.Now()
	families, err := b.op.Scrape()
	if err != nil {
		return operatorCounts{}, err
	}
	c := operatorCounts{at: at, requests: map[string]float64{}}
	requests, ok := families["reliability_operator_kube_requests_total"]
	if !ok {
		return c, fmt.Errorf("no reliability_operator_kube_requests_total on the operator's /metrics")
	}
	for _, m := range requests.GetMetric() {
		var verb, resource string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "verb":
				verb = l.GetValue()
			case "resource":
				resource = l.GetValue()
			}
		}
		c.requests[verb+" "+resource] += testenv.SampleValue(m)
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		if testenv.HasLabels(m, "controller", "reliabilityprofile") {
			c.reconciles += testenv.SampleValue(m)
		}
	}
	return c, nil
}

// heapSampler reads the operator's Go heap every 15 seconds, as often as Prometheus would scrape it and no
// more, and keeps the most it saw since the last takePeak.
type heapSampler struct {
	mu   sync.Mutex
	peak float64
	done chan struct{}
}

func startHeapSampler(op *testenv.OperatorProcess) *heapSampler {
	h := &heapSampler{done: make(chan struct{})}
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-tick.C:
				if v, err := op.Metric("go_memstats_heap_inuse_bytes"); err == nil {
					h.mu.Lock()
					h.peak = max(h.peak, v)
					h.mu.Unlock()
				}
			}
		}
	}()
	return h
}

func (h *heapSampler) takePeak() float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peak
	h.peak = 0
	return p
}

func (h *heapSampler) stop() { close(h.done) }
