package render

import (
	"fmt"
	"strings"
	"time"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	velerov1 "github.com/vmware-tanzu/velero/pkg/apis/velero/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

const (
	// ManagedByLabel marks every child, so that the operator's cache only holds its own objects.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "reliability-operator"
	// ProfileLabel names the profile a child belongs to.
	ProfileLabel = "reliability.dev/profile"
	// ProfileNamespaceLabel names the profile's namespace: a child in another namespace (a Velero Schedule)
	// is found and mapped back to its profile by these two labels.
	ProfileNamespaceLabel = "reliability.dev/profile-namespace"
)

// Options are the cluster-wide settings that shape children, set by operator flags.
type Options struct {
	// MonitoringLabels are added to ServiceMonitors and PrometheusRules so that Prometheus'
	// serviceMonitorSelector and ruleSelector pick them up (kube-prometheus-stack selects `release: <name>`).
	MonitoringLabels map[string]string
	// AlertLabels are added to every alert of every PrometheusRule, for routing in Alertmanager (such as
	// cluster=prod-eu); an alert's own label of the same name wins.
	AlertLabels map[string]string
	// GrafanaInstanceSelector selects the Grafana instances of grafana-operator that show the dashboards;
	// nil renders no dashboards.
	GrafanaInstanceSelector *metav1.LabelSelector
	// VeleroNamespace is where Velero reads Schedules; empty renders no backups.
	VeleroNamespace string
	// SLOWindowInterval is how often Prometheus evaluates the SLO-window rules; zero is 2m (slo.DefaultWindowInterval).
	SLOWindowInterval time.Duration
	// LoggingClusterOutputs are the logging-operator ClusterOutputs of each log tier; empty renders no Flows.
	LoggingClusterOutputs map[v1alpha1.Tier]string
	// DashboardConfigMaps, when set, renders each dashboard also as a ConfigMap for Grafana's dashboard
	// sidecar (kube-prometheus-stack); nil renders none. It works with or without GrafanaInstanceSelector.
	DashboardConfigMaps *DashboardConfigMapOptions
}

// Render returns every child object of the profile, in a stable order. The profile is expected to carry the
// CRD's defaults (the API server applies them); missing defaults are filled with the same values.
//
// When one child cannot be built from the profile (an SLO query that does not parse), Render still returns
// the others, with a *PartialError naming the missing kinds: the caller applies what it has and keeps the
// live objects of the missing kinds as they are, rather than deleting the last good ones.
func Render(rp *v1alpha1.ReliabilityProfile, opts Options) ([]client.Object, error) {
	if err := rp.DecodeError(); err != nil {
		return nil, err // its spec is unknown, not empty
	}
	if rp.Spec.Service == "" {
		return nil, fmt.Errorf("spec.service is empty")
	}
	partial := &PartialError{Name: rp.Name}
	objs := []client.Object{ServiceMonitor(rp, opts)}
	rule, ruleErr := PrometheusRule(rp, opts)
	if ruleErr != nil {
		// The dashboard reads the same SLOs: it keeps its last good version with the rule.
		partial.add(ruleKind, rp.Name, ruleErr)
		partial.add(dashboardKind, rp.Name, ruleErr)
		if opts.DashboardConfigMaps != nil && !dashboardDisabled(rp) {
			partial.add(configMapKind, DashboardConfigMapName(rp.Name), ruleErr)
		}
	} else {
		objs = append(objs, rule)
	}
	objs = append(objs, PodDisruptionBudget(rp))
	if np := NetworkPolicy(rp); np != nil {
		objs = append(objs, np)
	}
	schedule, err := VeleroSchedule(rp, opts)
	if err != nil {
		return nil, err
	}
	if schedule != nil {
		objs = append(objs, schedule)
	}
	if flow, err := LoggingFlow(rp, opts); err != nil {
		partial.add(flowKind, rp.Name, err)
	} else if flow != nil {
		objs = append(objs, flow)
	}
	if ruleErr == nil {
		if dash, err := GrafanaDashboard(rp, opts); err != nil {
			partial.add(dashboardKind, rp.Name, err)
		} else if dash != nil {
			objs = append(objs, dash)
		}
		if cm, err := DashboardConfigMap(rp, opts); err != nil {
			partial.add(configMapKind, DashboardConfigMapName(rp.Name), err)
		} else if cm != nil {
			objs = append(objs, cm)
		}
	}
	if len(partial.Failures) > 0 {
		return objs, partial
	}
	return objs, nil
}

// PartialError says that some children could not be rendered; the others were. The live objects of the
// failed kinds are to be kept as they are, not pruned.
type PartialError struct {
	Name     string
	Failures []Failure
}

// Failure is one child kind that could not be rendered, and why.
type Failure struct {
	Kind schema.GroupVersionKind
	// Name is the child's name: the profile's, but for the dashboard ConfigMap.
	Name string
	Err  error
}

func (e *PartialError) add(kind schema.GroupVersionKind, name string, err error) {
	e.Failures = append(e.Failures, Failure{Kind: kind, Name: name, Err: err})
}

func (e *PartialError) Error() string {
	parts := make([]string, 0, len(e.Failures))
	for _, f := range e.Failures {
		parts = append(parts, fmt.Sprintf("%s %s: %v", f.Kind.Kind, f.Name, f.Err))
	}
	return strings.Join(parts, "; ")
}

var (
	ruleKind      = monitoringv1.SchemeGroupVersion.WithKind(monitoringv1.PrometheusRuleKind)
	dashboardKind = grafanav1beta1.SchemeGroupVersion.WithKind("GrafanaDashboard")
	// configMapKind is the dashboard's ConfigMap: the only ConfigMap a profile has.
	configMapKind = corev1.SchemeGroupVersion.WithKind("ConfigMap")
)

// LivesOutsideProfileNamespace tells the kinds whose children live in another namespace (Velero reads
// Schedules in its own). They carry no owner reference, so the controller maps them back by their labels.
func LivesOutsideProfileNamespace(gvk schema.GroupVersionKind) bool {
	return gvk.Group == velerov1.SchemeGroupVersion.Group && gvk.Kind == "Schedule"
}

// childMeta is the metadata shared by every child: the profile's name and namespace, and only the operator's
// own labels. The profile's labels and annotations are never copied: Argo CD's tracking label on a child
// would make Argo treat the child as its own and prune it.
func childMeta(rp *v1alpha1.ReliabilityProfile, extraLabels map[string]string) metav1.ObjectMeta {
	labels := map[string]string{}
	for k, v := range extraLabels {
		labels[k] = v
	}
	labels[ManagedByLabel] = ManagedByValue
	labels[ProfileLabel] = rp.Name
	labels[ProfileNamespaceLabel] = rp.Namespace
	return metav1.ObjectMeta{Name: rp.Name, Namespace: rp.Namespace, Labels: labels}
}

// metricsPort is spec.metrics.port, or the O-7 default when the profile was not defaulted by the API server.
func metricsPort(rp *v1alpha1.ReliabilityProfile) int32 {
	if rp.Spec.Metrics.Port != 0 {
		return rp.Spec.Metrics.Port
	}
	return v1alpha1.DefaultMetricsPort
}

// ChildTypes returns an empty object of every kind Render can produce, with its kind set. The controller
// watches these kinds and the applier prunes them, so a kind added to Render is added here.
func ChildTypes() []client.Object {
	return []client.Object{
		&monitoringv1.ServiceMonitor{TypeMeta: typeMeta(monitoringv1.SchemeGroupVersion.String(), monitoringv1.ServiceMonitorsKind)},
		&monitoringv1.PrometheusRule{TypeMeta: typeMeta(monitoringv1.SchemeGroupVersion.String(), monitoringv1.PrometheusRuleKind)},
		&policyv1.PodDisruptionBudget{TypeMeta: typeMeta(policyv1.SchemeGroupVersion.String(), "PodDisruptionBudget")},
		&networkingv1.NetworkPolicy{TypeMeta: typeMeta(networkingv1.SchemeGroupVersion.String(), "NetworkPolicy")},
		&grafanav1beta1.GrafanaDashboard{TypeMeta: typeMeta(dashboardKind.GroupVersion().String(), dashboardKind.Kind)},
		// Always, also when DashboardConfigMaps is off: the ConfigMaps of an earlier run with it on are pruned.
		&corev1.ConfigMap{TypeMeta: typeMeta(configMapKind.GroupVersion().String(), configMapKind.Kind)},
		&velerov1.Schedule{TypeMeta: typeMeta(velerov1.SchemeGroupVersion.String(), "Schedule")},
		flowPrototype(),
	}
}
