package controllers

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/compliance"
	"github.com/reliability-operator/reliability-operator/internal/observe"
)

// Compliance reads, never writes, what S-2 and S-3 judge:
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes;grpcroutes;tlsroutes;tcproutes;udproutes,verbs=get;list;watch

// The compliance metrics are built at each scrape from what the operator last judged (judgedResults),
// rather than kept as gauge vectors beside it: one copy of the verdicts, not two, which at 1,000 profiles
// is about 15,000 series the process would otherwise hold between scrapes.
var (
	ruleResultDesc = prometheus.NewDesc("reliability_operator_rule_result",
		"1 for the verdict on each manifesto rule of each profile's service (result: Pass, Fail, Waived, NotApplicable, Unknown); status.compliance[] has the message.",
		[]string{"namespace", "profile", "service", "rule", "result"}, nil)
	exceptionExpiryDesc = prometheus.NewDesc("reliability_operator_exception_expiry_timestamp_seconds",
		"When each exception of a profile stops holding (the end of its expires day, UTC), as a Unix time: `- time() < 14 * 86400` finds those expiring within 14 days.",
		[]string{"namespace", "profile", "service", "rule"}, nil)
)

func init() {
	metrics.Registry.MustRegister(complianceCollector{})
}

// complianceCollector reports the last verdicts and exceptions of every profile.
type complianceCollector struct{}

func (complianceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- ruleResultDesc
	ch <- exceptionExpiryDesc
}

func (complianceCollector) Collect(ch chan<- prometheus.Metric) {
	judgedResults.Range(func(k, v any) bool {
		key, j := k.(types.NamespacedName), v.(judgement)
		for rule, result := range j.results {
			ch <- prometheus.MustNewConstMetric(ruleResultDesc, prometheus.GaugeValue, 1, key.Namespace, key.Name, j.service, rule, string(result))
		}
		for rule, end := range j.exceptionEnds {
			ch <- prometheus.MustNewConstMetric(exceptionExpiryDesc, prometheus.GaugeValue, float64(end.Unix()), key.Namespace, key.Name, j.service, rule)
		}
		return true
	})
}

// forgetCompliance drops what is remembered of a deleted profile, its series with it.
func forgetCompliance(key types.NamespacedName) {
	judgedResults.Delete(key)
}

// gatherCluster reads from the cache what S-2 and S-3 judge in the profile's namespace: its Services,
// Ingresses and workloads, and the Gateway API routes of any namespace with a backend in it, as the cache
// keeps them (see internal/operator's inventory cache).
func (r *ReliabilityProfileReconciler) gatherCluster(ctx context.Context, rp *v1alpha1.ReliabilityProfile) (*compliance.Cluster, error) {
	in := client.InNamespace(rp.Namespace)
	c := &compliance.Cluster{}
	services := &corev1.ServiceList{}
	ingresses := &networkingv1.IngressList{}
	deployments := &appsv1.DeploymentList{}
	statefulSets := &appsv1.StatefulSetList{}
	daemonSets := &appsv1.DaemonSetList{}
	for _, list := range []client.ObjectList{services, ingresses, deployments, statefulSets, daemonSets} {
		// Read only: the cache's own objects, not copies of every object of the namespace.
		if err := r.Client.List(ctx, list, in, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
	}
	c.Services, c.Ingresses = services.Items, ingresses.Items
	for _, kind := range r.GatewayRoutes {
		routes, err := r.routesInto(ctx, kind, rp.Namespace)
		if err != nil {
			return nil, err
		}
		c.Routes = append(c.Routes, routes...)
		c.RouteKinds = append(c.RouteKinds, kind.GetObjectKind().GroupVersionKind().Kind)
	}
	for _, d := range deployments.Items {
		c.Workloads = append(c.Workloads, compliance.Workload{Kind: "Deployment", Name: d.Name, Template: d.Spec.Template})
	}
	for _, s := range statefulSets.Items {
		c.Workloads = append(c.Workloads, compliance.Workload{Kind: "StatefulSet", Name: s.Name, Template: s.Spec.Template})
	}
	for _, d := range daemonSets.Items {
		c.Workloads = append(c.Workloads, compliance.Workload{Kind: "DaemonSet", Name: d.Name, Template: d.Spec.Template})
	}
	return c, nil
}

// scrapeOf is what O-7 and O-8 read of an observation.
func scrapeOf(obs observe.Observation) *compliance.Scrape {
	return &compliance.Scrape{Err: obs.Err, Targets: obs.Targets.Total, TargetsUp: obs.Targets.Up,
		VersionMetricSeries: obs.VersionMetricSeries}
}

// RouteServiceNamespaceIndex indexes the cached Gateway API routes by the namespaces of the Services they
// send traffic to (RouteServiceNamespaces), so that a profile's reconcile finds the routes of every
// namespace that point into its own without reading them all.
const RouteServiceNamespaceIndex = "gatewayRoute.serviceNamespaces"

// RouteServiceNamespaces is the index function of RouteServiceNamespaceIndex.
func RouteServiceNamespaces(obj client.Object) []string {
	route, ok := compliance.RouteOf(obj)
	if !ok {
		return nil
	}
	return route.ServiceNamespaces()
}

// routesInto lists from the cache the routes of one kind with a Service backend in the namespace.
func (r *ReliabilityProfileReconciler) routesInto(ctx context.Context, kind client.Object, namespace string) ([]compliance.Route, error) {
	gvk := kind.GetObjectKind().GroupVersionKind()
	obj, err := r.Client.Scheme().New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err != nil {
		return nil, err
	}
	list, ok := obj.(client.ObjectList)
	if !ok {
		return nil, fmt.Errorf("%T is not a list", obj)
	}
	if err := r.Client.List(ctx, list, client.MatchingFields{RouteServiceNamespaceIndex: namespace}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	var out []compliance.Route
	err = meta.EachListItem(list, func(item runtime.Object) error {
		if route, ok := compliance.RouteOf(item); ok {
			out = append(out, route)
		}
		return nil
	})
	return out, err
}

// profilesOfNamespace enqueues every profile of an object's namespace: a Service, Ingress or workload that
// changed may change their S-2 or S-3 verdicts.
func (r *ReliabilityProfileReconciler) profilesOfNamespace(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.profilesIn(ctx, obj.GetNamespace())
}

// profilesOfRouteBackends enqueues every profile of the namespaces a Gateway API route sends traffic to,
// which may be other than its own. An update is mapped for the old route and the new one, so a backend
// moved away from a namespace enqueues that namespace's profiles too.
func (r *ReliabilityProfileReconciler) profilesOfRouteBackends(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	for _, ns := range RouteServiceNamespaces(obj) {
		out = append(out, r.profilesIn(ctx, ns)...)
	}
	return out
}

func (r *ReliabilityProfileReconciler) profilesIn(ctx context.Context, namespace string) []reconcile.Request {
	out, _ := r.profileRequests(ctx, client.InNamespace(namespace))
	return out
}

// profileRequests lists from the cache the profiles the options select, as requests.
func (r *ReliabilityProfileReconciler) profileRequests(ctx context.Context, opts ...client.ListOption) ([]reconcile.Request, error) {
	list := &v1alpha1.ReliabilityProfileList{}
	if err := r.Client.List(ctx, list, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		return nil, err
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, rp := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: rp.Namespace, Name: rp.Name}})
	}
	return out, nil
}

// serviceExposureChanged lets through Service updates that change what S-2 reads (Services have no
// generation).
var serviceExposureChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*corev1.Service)
		cur, okNew := e.ObjectNew.(*corev1.Service)
		return okOld && okNew && (old.Spec.Type != cur.Spec.Type || !maps.Equal(old.Spec.Selector, cur.Spec.Selector))
	},
}

// livePDB is the profile's PodDisruptionBudget from the cache (no request), for D-6; nil when there is none.
func (r *ReliabilityProfileReconciler) livePDB(ctx context.Context, rp *v1alpha1.ReliabilityProfile) (*policyv1.PodDisruptionBudget, error) {
	pdb := &policyv1.PodDisruptionBudget{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: rp.Namespace, Name: rp.Name}, pdb)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !apply.IsControlledBy(pdb, rp) {
		return nil, nil // a foreign PDB of that name says nothing about the profile's
	}
	return pdb, nil
}

// setComplianceStatus writes the verdicts into status.compliance[], keeping each rule's lastTransitionTime
// while its result stays, the summary and the Compliant condition.
func setComplianceStatus(rp *v1alpha1.ReliabilityProfile, verdicts []compliance.Verdict, now metav1.Time) {
	st := &rp.Status
	out := make([]v1alpha1.RuleVerdict, 0, len(verdicts))
	for _, v := range verdicts {
		entry := v1alpha1.RuleVerdict{Rule: v.Rule, Result: v.Result, Message: v.Message, LastTransitionTime: now}
		if prev := findVerdict(st.Compliance, v.Rule); prev != nil && prev.Result == v.Result {
			entry.LastTransitionTime = prev.LastTransitionTime
		}
		out = append(out, entry)
	}
	st.Compliance = out
	st.ComplianceSummary = compliance.Summary(verdicts)

	c := metav1.Condition{Type: v1alpha1.CompliantCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.RulesMetReason,
		Message: fmt.Sprintf("%s manifesto rules met.", st.ComplianceSummary)}
	if failing := compliance.Failing(verdicts, v1alpha1.ComplianceFail); len(failing) > 0 {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.RulesFailedReason
		c.Message = fmt.Sprintf("%s manifesto rules met; failing: %s.", st.ComplianceSummary, strings.Join(failing, ", "))
	} else if unknown := compliance.Failing(verdicts, v1alpha1.ComplianceUnknown); len(unknown) > 0 {
		c.Status, c.Reason = metav1.ConditionUnknown, v1alpha1.RulesUnknownReason
		c.Message = fmt.Sprintf("%s manifesto rules met; not judged: %s (see status.compliance).", st.ComplianceSummary, strings.Join(unknown, ", "))
	}
	setCondition(st, c, rp.Generation, now)
}

func findVerdict(verdicts []v1alpha1.RuleVerdict, rule string) *v1alpha1.RuleVerdict {
	for i := range verdicts {
		if verdicts[i].Rule == rule {
			return &verdicts[i]
		}
	}
	return nil
}

// judgedResults remembers what was last judged of each profile: the result of each rule, and when its
// exceptions end, which the metrics report and the next verdicts are compared with for their Events. The
// cache can hand a reconcile a profile whose status is older than the last write (a child's event may
// overtake the profile's own), and a change judged against that stale status would go without its Event;
// after a restart the status is all there is.
var judgedResults sync.Map // types.NamespacedName → judgement

type judgement struct {
	service       string
	results       map[string]v1alpha1.ComplianceResult
	exceptionEnds map[string]time.Time
}

// recordComplianceEvents emits an Event for each rule whose result changed since the last verdict (the
// first verdicts of a profile are not changes), and ExceptionExpired when a waiver ended; then it remembers
// the verdicts.
func (r *ReliabilityProfileReconciler) recordComplianceEvents(before, after *v1alpha1.ReliabilityProfile) {
	key := types.NamespacedName{Namespace: after.Namespace, Name: after.Name}
	last := map[string]v1alpha1.ComplianceResult{}
	if remembered, ok := judgedResults.Load(key); ok {
		last = remembered.(judgement).results
	} else {
		for _, v := range before.Status.Compliance {
			last[v.Rule] = v.Result
		}
	}
	now := map[string]v1alpha1.ComplianceResult{}
	for _, v := range after.Status.Compliance {
		now[v.Rule] = v.Result
		prev, seen := last[v.Rule]
		if !seen || prev == v.Result {
			continue
		}
		if prev == v1alpha1.ComplianceWaived && v.Result != v1alpha1.CompliancePass && v.Result != v1alpha1.ComplianceNotApplicable {
			r.Recorder.Eventf(after, nil, corev1.EventTypeWarning, v1alpha1.ExceptionExpiredReason, "Judge",
				"%s: the exception no longer holds; %s: %s", v.Rule, v.Result, v.Message)
			continue
		}
		eventType := corev1.EventTypeNormal
		if v.Result == v1alpha1.ComplianceFail {
			eventType = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(after, nil, eventType, v1alpha1.RuleResultChangedReason, "Judge",
			"%s: %s → %s: %s", v.Rule, prev, v.Result, v.Message)
	}
	ends := map[string]time.Time{}
	for _, e := range after.Spec.Exceptions {
		if end, ok := compliance.ExceptionEnd(e); ok {
			ends[e.Rule] = end
		}
	}
	judgedResults.Store(key, judgement{service: after.Spec.Service, results: now, exceptionEnds: ends})
}

// requeueForCompliance is how long until a verdict can change by the clock alone (an exception ending, a
// drill falling due), capped so that a date far ahead does not overflow the work queue's timer; 0 for none.
func requeueForCompliance(s compliance.Snapshot) time.Duration {
	next := compliance.NextChange(s)
	if next.IsZero() {
		return 0
	}
	return min(next.Sub(s.Now)+time.Second, 24*time.Hour)
}

// pdbStatusChanged lets through the PodDisruptionBudget status updates that change D-6's verdict.
var pdbStatusChanged = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, okOld := e.ObjectOld.(*policyv1.PodDisruptionBudget)
		cur, okNew := e.ObjectNew.(*policyv1.PodDisruptionBudget)
		if !okOld || !okNew {
			return false
		}
		o, n := old.Status, cur.Status
		return o.ObservedGeneration != n.ObservedGeneration || o.DisruptionsAllowed != n.DisruptionsAllowed ||
			o.ExpectedPods != n.ExpectedPods || o.CurrentHealthy != n.CurrentHealthy
	},
}
