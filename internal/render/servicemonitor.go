package render

import (
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// ServiceMonitor scrapes the service's metrics port and path (O-6, O-7) through its Services, and labels
// every series with the profile's `service` and `tier` (O-2, O-6).
func ServiceMonitor(rp *v1alpha1.ReliabilityProfile, opts Options) *monitoringv1.ServiceMonitor {
	m := rp.Spec.Metrics
	selector := rp.Spec.Selector.Meta()
	if m.ServiceSelector != nil {
		selector = m.ServiceSelector.Meta()
	}
	path := m.Path
	if path == "" {
		path = v1alpha1.DefaultMetricsPath
	}
	interval := m.Interval
	if interval == "" {
		interval = v1alpha1.DefaultScrapeInterval
	}
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   typeMeta(monitoringv1.SchemeGroupVersion.String(), monitoringv1.ServiceMonitorsKind),
		ObjectMeta: childMeta(rp, opts.MonitoringLabels),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector: *selector,
			Endpoints: []monitoringv1.Endpoint{{
				// targetPort, not a port name: the manifesto fixes the container port, while Service port
				// names differ from team to team.
				TargetPort: ptr.To(intstr.FromInt32(metricsPort(rp))),
				Path:       path,
				Interval:   monitoringv1.Duration(interval),
				// Prometheus-operator's own relabelling sets `service` to the Kubernetes Service name; these
				// run after it, so the profile's service name wins.
				RelabelConfigs: []monitoringv1.RelabelConfig{
					constantLabel("service", rp.Spec.Service),
					constantLabel("tier", string(rp.Spec.Tier)),
				},
			}},
		},
	}
}

func constantLabel(name, value string) monitoringv1.RelabelConfig {
	return monitoringv1.RelabelConfig{Action: "replace", TargetLabel: name, Replacement: ptr.To(value)}
}
