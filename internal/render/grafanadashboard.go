package render

import (
	"encoding/json"
	"fmt"
	"time"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/dashboard"
	"github.com/reliability-operator/reliability-operator/internal/slo"
)

// GrafanaDashboard is the service's SLO dashboard for grafana-operator, in a folder per namespace. It returns
// nil when the operator has no Grafana instance selector or the profile disables its dashboard.
func GrafanaDashboard(rp *v1alpha1.ReliabilityProfile, opts Options) (*grafanav1beta1.GrafanaDashboard, error) {
	if opts.GrafanaInstanceSelector == nil || dashboardDisabled(rp) {
		return nil, nil
	}
	content, err := DashboardContent(rp)
	if err != nil {
		return nil, err
	}
	return &grafanav1beta1.GrafanaDashboard{
		TypeMeta:   typeMeta(grafanav1beta1.SchemeGroupVersion.String(), "GrafanaDashboard"),
		ObjectMeta: childMeta(rp, nil),
		Spec: grafanav1beta1.GrafanaDashboardSpec{
			GrafanaCommonSpec: grafanav1beta1.GrafanaCommonSpec{
				InstanceSelector: opts.GrafanaInstanceSelector.DeepCopy(),
				// The Grafana instances live in their own namespace, not the service's.
				AllowCrossNamespaceImport: true,
				// Set, because the field is not a pointer: left zero it would be written as "0s".
				ResyncPeriod: metav1.Duration{Duration: 10 * time.Minute},
			},
			GrafanaContentSpec: grafanav1beta1.GrafanaContentSpec{JSON: content.JSON},
			FolderTitle:        content.Folder,
		},
	}, nil
}

// Dashboard is what both forms of the dashboard carry: the GrafanaDashboard of grafana-operator and the
// ConfigMap of Grafana's sidecar show the same JSON in the same folder.
type Dashboard struct {
	// JSON is the Grafana dashboard model, indented.
	JSON string
	// Folder is the Grafana folder: spec.dashboard.folder, or the profile's namespace.
	Folder string
}

// DashboardContent builds the profile's dashboard, whichever form carries it.
func DashboardContent(rp *v1alpha1.ReliabilityProfile) (Dashboard, error) {
	objectives, err := slo.Objectives(rp)
	if err != nil {
		return Dashboard{}, err
	}
	d := dashboard.Build(dashboard.Service{
		Name: rp.Spec.Service, Namespace: rp.Namespace, VersionMetric: rp.Spec.Metrics.VersionMetric,
		Title: fmt.Sprintf("%s reliability (%s)", rp.Spec.Service, rp.Namespace),
	}, objectives)
	// Indented, so that the golden files and `kubectl get -o yaml` show a readable diff.
	model, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return Dashboard{}, err
	}
	folder := rp.Namespace
	if rp.Spec.Dashboard != nil && rp.Spec.Dashboard.Folder != "" {
		folder = rp.Spec.Dashboard.Folder
	}
	return Dashboard{JSON: string(model), Folder: folder}, nil
}

func dashboardDisabled(rp *v1alpha1.ReliabilityProfile) bool {
	return rp.Spec.Dashboard != nil && rp.Spec.Dashboard.Disabled
}
