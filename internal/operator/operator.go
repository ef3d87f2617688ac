// Package operator wires the manager: scheme, cache, controllers, probes and metrics. main.go, the demo
// and the envtest suites all start the operator through New, so tests exercise the wiring that ships.
package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/controllers"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/observe"
	"github.com/reliability-operator/reliability-operator/internal/placement"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/shard"
	placementwebhook "github.com/reliability-operator/reliability-operator/internal/webhook"
)

// Options are the operator's settings, one per command-line flag.
type Options struct {
	MetricsAddress string
	ProbeAddress   string
	// PprofAddress, when set, serves Go's profiles (controller-runtime's PprofBindAddress).
	PprofAddress            string
	LeaderElection          bool
	LeaderElectionNamespace string
	Render                  render.Options
	// PrometheusURL, when set, is read every PrometheusInterval for SLO values and loaded rules.
	PrometheusURL      string
	PrometheusInterval time.Duration
	// LokiRetentionConfigMap, when set (namespace/name), enables log retention through Loki's runtime
	// overrides in that ConfigMap, for the tenant LokiTenant.
	LokiRetentionConfigMap types.NamespacedName
	LokiTenant             string
	// SpotPlacement serves the pod admission webhook that caps pods on spot nodes (P-3) and makes the
	// controller observe where pods run. It needs the webhook's serving certificate in Webhook.CertDir.
	SpotPlacement bool
	// ValidatingWebhook serves the ReliabilityProfile validating webhook (internal/admission): refusals of
	// what the CRD's schema cannot check, and warnings. It needs the same serving certificate.
	ValidatingWebhook bool
	Webhook           webhook.Options
	// MaxConcurrentReconciles is how many profiles the ReliabilityProfile controller reconciles at once (one
	// profile is never reconciled by two workers); 0 means DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// KubeAPIQPS and KubeAPIBurst, when set, replace the client's rate limit of the rest.Config given to New;
	// 0 keeps the rest.Config's own (ctrl.GetConfig's 20 and 30 when it has none).
	KubeAPIQPS   float32
	KubeAPIBurst int
	// SeveralInOneProcess lets tests start more than one operator in one process (controller names are
	// otherwise process-wide unique, for their metrics).
	SeveralInOneProcess bool
	// Sharding, with Shards > 1, splits the namespaces between replicas, each reconciling the shards whose
	// Lease it holds (internal/operator/shard.go); LeaderElection is then not used.
	Sharding shard.Options
}

// DefaultMaxConcurrentReconciles: a reconcile spends most of its time waiting on the API server (the status
// write, applies of changed children, dry runs), so a few workers let one slow profile not hold up the
// others; more would mostly queue on the client's rate limit.
const DefaultMaxConcurrentReconciles = 4

// NewScheme knows every kind the operator reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, v1alpha1.AddToScheme, monitoringv1.AddToScheme, grafanav1beta1.AddToScheme, velerov1.AddToScheme, gatewayv1.Install} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// New builds a manager with the ReliabilityProfile controller registered.
func New(cfg *rest.Config, o Options) (ctrl.Manager, error) {
	if o.SpotPlacement && o.Sharding.Shards > 1 {
		// The webhook caps a workload's spot pods by counting them in one process (README, Sharding).
		return nil, errors.New("--spot-placement needs one replica: it cannot run with --shards above 1")
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	// The leader lease is renewed with a client of its own: a renewal queued behind a burst of writes in the
	// shared token bucket could let the lease expire.
	leaderElectionCfg := withRequestMetrics(rest.CopyConfig(cfg))
	cfg = withRequestMetrics(withRateLimit(cfg, o))
	// Waits while the API server cannot be reached, answering the probes meanwhile (see waitForDiscovery).
	served, mapper, err := waitForDiscovery(cfg, o.ProbeAddress)
	if err != nil {
		return nil, err
	}
	// The cache holds only the operator's own children, not every PDB and NetworkPolicy of the cluster.
	// ConfigMaps are children too (the dashboards for Grafana's sidecar, in every profile's namespace), so the
	// one cache entry a type may have holds the operator's ConfigMaps in every namespace: the dashboards and
	// Loki's retention ConfigMap alike. Each reader picks its own from it: the profile controller by owner
	// reference, the log retention controller by name, reading past the cache to find a foreign one.
	byObject := map[client.Object]cache.ByObject{}
	for _, child := range served.Children {
		byObject[child] = cache.ByObject{Label: labels.SelectorFromSet(labels.Set{render.ManagedByLabel: render.ManagedByValue}),
			Transform: childWithoutFieldSets}
	}
	for obj, byObj := range inventoryCache(served.GatewayRoutes) {
		byObject[obj] = byObj
	}
	byObject[&v1alpha1.ReliabilityProfile{}] = cache.ByObject{Transform: profileWithoutManagedFields}
	byObject[&apiextensionsv1.CustomResourceDefinition{}] = cache.ByObject{Transform: crdIdentity}
	var webhookServer webhook.Server
	if o.SpotPlacement {
		// Pods: only what placement reads, and only live ones; nodes: only their labels.
		byObject[&corev1.Pod{}] = cache.ByObject{
			Field:     fields.AndSelectors(fields.OneTermNotEqualSelector("status.phase", string(corev1.PodSucceeded)), fields.OneTermNotEqualSelector("status.phase", string(corev1.PodFailed))),
			Transform: placementPodFields,
		}
		byObject[placementwebhook.NodeMetadata()] = cache.ByObject{Transform: nodeLabelsOnly}
	}
	if o.SpotPlacement || o.ValidatingWebhook {
		webhookServer = webhook.NewServer(o.Webhook)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		WebhookServer:           webhookServer,
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: o.MetricsAddress},
		HealthProbeBindAddress:  o.ProbeAddress,
		PprofBindAddress:        o.PprofAddress,
		LeaderElection:          o.LeaderElection && o.Sharding.Shards <= 1, // sharding elects per shard
		LeaderElectionID:        "reliability-operator.reliability.dev",
		LeaderElectionNamespace: o.LeaderElectionNamespace,
		// Releasing the lease on shutdown lets the next replica take over at once, not after the lease expires.
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionConfig:          leaderElectionCfg,
		Cache:                         cache.Options{ByObject: byObject},
		// Kinds outside the scheme (logging-operator's Flow) are read as unstructured objects, which the
		// client would otherwise send to the API server: every reconcile of an unchanged profile would list
		// and get its Flows. Their informers are the children's, with the byObject label selector above; the
		// reads meant to be live (a foreign object of a child's name) go through the API reader.
		Client:         client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		MapperProvider: func(*rest.Config, *http.Client) (meta.RESTMapper, error) { return mapper, nil },
		Controller:     config.Controller{SkipNameValidation: ptr.To(o.SeveralInOneProcess)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	r := &controllers.ReliabilityProfileReconciler{
		Client:                  mgr.GetClient(),
		Applier:                 &apply.Applier{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()},
		Recorder:                mgr.GetEventRecorder(buildinfo.Service),
		RenderOptions:           o.Render,
		GatewayRoutes:           served.GatewayRoutes,
		MaxConcurrentReconciles: o.MaxConcurrentReconciles,
	}
	if r.MaxConcurrentReconciles == 0 {
		r.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	shards, err := setUpShards(cfg, mgr, r, o)
	if err != nil {
		return nil, fmt.Errorf("setting up the shards: %w", err)
	}
	for _, route := range served.GatewayRoutes {
		if err := mgr.GetFieldIndexer().IndexField(context.Background(), route, controllers.RouteServiceNamespaceIndex, controllers.RouteServiceNamespaces); err != nil {
			return nil, fmt.Errorf("indexing the %s cache: %w", route.GetObjectKind().GroupVersionKind().Kind, err)
		}
	}
	policyGVK := v1alpha1.GroupVersion.WithKind("ReliabilityPolicy")
	if _, err := mapper.RESTMapping(policyGVK.GroupKind(), policyGVK.Version); err == nil {
		r.Policies = mgr.GetClient()
	} else {
		ctrl.Log.Info("Not reading a ReliabilityPolicy: its CRD is not installed; the flags are the defaults", "error", err.Error())
	}
	if o.PrometheusURL != "" {
		observer, err := observe.New(o.PrometheusURL, o.PrometheusInterval, mgr.GetClient())
		if err != nil {
			return nil, err
		}
		observer.WindowInterval = o.Render.SLOWindowInterval // the SLO-window series are read over a lookback of it
		observer.Policies = r.Policies
		if err := mgr.Add(observer); err != nil {
			return nil, err
		}
		r.Observations, r.ObservationEvents = observer, observer.Changed
	}
	if len(o.Render.LoggingClusterOutputs) > 0 {
		r.LogBackend = &controllers.LogBackend{Name: "logging-operator (ClusterOutputs per tier)"}
	}
	if o.LokiRetentionConfigMap.Name != "" {
		if r.LogBackend != nil {
			return nil, fmt.Errorf("choose one log backend: --loki-retention-configmap or --logging-cluster-outputs")
		}
		state := controllers.NewLogRetentionState()
		r.LogBackend = &controllers.LogBackend{Name: "loki (ConfigMap " + o.LokiRetentionConfigMap.String() + ")", State: state}
		lr := &controllers.LogRetentionReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			ConfigMap: o.LokiRetentionConfigMap, Tenant: o.LokiTenant, State: state, Policies: r.Policies, Writes: writesSingletons(shards)}
		if err := lr.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("setting up the log retention controller: %w", err)
		}
	}
	if o.SpotPlacement {
		if err := setUpSpotPlacement(mgr, r); err != nil {
			return nil, err
		}
	}
	if o.ValidatingWebhook {
		// Every replica serves it, leader or not, with the options the leader renders with.
		mgr.GetWebhookServer().Register(placementwebhook.ProfileValidationPath, &webhook.Admission{Handler: &placementwebhook.ProfileValidation{
			Decoder: admission.NewDecoder(mgr.GetScheme()), Render: o.Render, Policies: r.Policies,
		}})
	}
	if err := r.SetupWithManager(mgr, served.Children); err != nil {
		return nil, fmt.Errorf("setting up the ReliabilityProfile controller: %w", err)
	}
	if err := setUpChildKindWatch(mgr, r); err != nil {
		return nil, fmt.Errorf("setting up the watch of child kinds installed later: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return nil, err
	}
	synced := &cachesSynced{}
	if err := mgr.Add(synced); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("caches", synced.check); err != nil {
		return nil, err
	}
	if err := addProfilesSyncedCheck(mgr); err != nil {
		return nil, err
	}
	if o.SpotPlacement || o.ValidatingWebhook {
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// withRateLimit is cfg with one client rate limit for the whole process: the options' QPS and burst where
// they set them, else the config's own. A rest.Config's QPS and Burst alone limit each REST client apart,
// and controller-runtime makes one per kind, so "50 requests per second" would be 50 for every kind the
// operator writes. One token bucket (rest.Config.RateLimiter, shared by every copy of the config) makes the
// flags mean what they say. A RateLimiter the caller set is kept. The caller's cfg is left as it is.
func withRateLimit(cfg *rest.Config, o Options) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	if cfg.RateLimiter != nil {
		return cfg
	}
	if o.KubeAPIQPS != 0 {
		cfg.QPS = o.KubeAPIQPS
	}
	if o.KubeAPIBurst != 0 {
		cfg.Burst = o.KubeAPIBurst
	}
	if cfg.QPS > 0 {
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, max(cfg.Burst, 1))
	}
	return cfg
}

// addProfilesSyncedCheck keeps the replica not Ready until it has read every profile: a cache that cannot
// list them (no permission, a profile it cannot decode) would otherwise leave it Ready while it reconciles
// nothing. The informer starts with the cache, on every replica, leader or not.
func addProfilesSyncedCheck(mgr ctrl.Manager) error {
	profiles, err := mgr.GetCache().GetInformer(context.Background(), &v1alpha1.ReliabilityProfile{}, cache.BlockUntilSynced(false))
	if err != nil {
		return err
	}
	return mgr.AddReadyzCheck("profiles", func(*http.Request) error {
		if !profiles.HasSynced() {
			return errors.New("the ReliabilityProfile cache has not synced")
		}
		return nil
	})
}

// setUpSpotPlacement indexes the cached pods, registers the pod admission webhook and lets the reconciler
// observe placement.
func setUpSpotPlacement(mgr ctrl.Manager, r *controllers.ReliabilityProfileReconciler) error {
	ctx := context.Background()
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, placementwebhook.PodOwnerIndex, placementwebhook.PodOwnerUID); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, controllers.PodNodeIndex, controllers.PodNodeName); err != nil {
		return err
	}
	// The webhook reads pods, nodes and profiles from the cache on every replica, leader or not: their
	// informers start with the cache instead of at the first admission, and the replica is not Ready (gets no
	// webhook traffic from its Service) until they have synced.
	var informers []cache.Informer
	for _, obj := range []client.Object{&corev1.Pod{}, placementwebhook.NodeMetadata(), &v1alpha1.ReliabilityProfile{}} {
		inf, err := mgr.GetCache().GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return err
		}
		informers = append(informers, inf)
	}
	// Only these three: the children's informers, which the leader adds later, must not take the webhook
	// out of its Service.
	if err := mgr.AddReadyzCheck("webhook-cache", func(*http.Request) error {
		for _, inf := range informers {
			if !inf.HasSynced() {
				return errors.New("the pods, nodes and profiles the webhook reads have not synced")
			}
		}
		return nil
	}); err != nil {
		return err
	}
	audits := placementwebhook.NewAuditLog()
	mgr.GetWebhookServer().Register(placementwebhook.Path, &webhook.Admission{Handler: &placementwebhook.PodPlacement{
		Cache: mgr.GetClient(), Live: mgr.GetAPIReader(), Decoder: admission.NewDecoder(mgr.GetScheme()), Audits: audits, Policies: r.Policies,
	}})
	r.SpotPlacement = &controllers.SpotPlacement{Audits: audits}
	return nil
}

// nodeLabelsOnly keeps a node's name and labels: a large cluster's node annotations and managed fields are
// most of its metadata.
func nodeLabelsOnly(obj any) (any, error) {
	n, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: n.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion, Labels: n.Labels}}, nil
}

// placementPodFields keeps what the webhook and the controller read of a pod: identity, labels, owner,
// the webhook's annotations, the node it is bound to and its node placement. A pod is cached at a few
// hundred bytes instead of kilobytes.
func placementPodFields(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	var annotations map[string]string
	for _, k := range []string{placement.DecisionAnnotation, placement.RequestAnnotation} {
		if v, ok := p.Annotations[k]; ok {
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[k] = v
		}
	}
	stripped := &corev1.Pod{
		TypeMeta: p.TypeMeta,
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID, ResourceVersion: p.ResourceVersion,
			Labels: p.Labels, Annotations: annotations, OwnerReferences: p.OwnerReferences, DeletionTimestamp: p.DeletionTimestamp},
		Spec:   corev1.PodSpec{NodeName: p.Spec.NodeName, NodeSelector: p.Spec.NodeSelector},
		Status: corev1.PodStatus{Phase: p.Status.Phase},
	}
	if p.Spec.Affinity != nil && p.Spec.Affinity.NodeAffinity != nil {
		stripped.Spec.Affinity = &corev1.Affinity{NodeAffinity: p.Spec.Affinity.NodeAffinity}
	}
	return stripped, nil
}
