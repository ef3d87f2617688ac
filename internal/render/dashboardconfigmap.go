package render

import (
	"fmt"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// DashboardConfigMapOptions make the dashboard also a ConfigMap for Grafana's dashboard sidecar (k8s-sidecar,
// as kube-prometheus-stack's Grafana runs it), which loads every ConfigMap carrying its label.
type DashboardConfigMapOptions struct {
	// LabelKey and LabelValue are the sidecar's label (sidecar.dashboards.label and labelValue of the grafana
	// chart; kube-prometheus-stack: grafana_dashboard and "1").
	LabelKey, LabelValue string
	// FolderAnnotation is the sidecar's folder annotation (sidecar.dashboards.folderAnnotation), such as
	// grafana_folder; empty sets none, and the sidecar puts every dashboard in its default folder.
	FolderAnnotation string
}

// DefaultDashboardConfigMapLabel is the label kube-prometheus-stack's Grafana sidecar looks for.
const DefaultDashboardConfigMapLabel = "grafana_dashboard=1"

// NewDashboardConfigMapOptions reads the options from their flags: the sidecar's label as key=value (the value
// may be empty: a sidecar without labelValue takes any value) and the name of its folder annotation, or "".
func NewDashboardConfigMapOptions(label, folderAnnotation string) (*DashboardConfigMapOptions, error) {
	key, value, ok := strings.Cut(label, "=")
	if !ok {
		return nil, fmt.Errorf("label %q: want key=value, such as %s", label, DefaultDashboardConfigMapLabel)
	}
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return nil, fmt.Errorf("label key %q: %s", key, strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
		return nil, fmt.Errorf("label value %q: %s", value, strings.Join(errs, "; "))
	}
	// The operator's own labels and annotations find and own its children; the sidecar's must be others.
	if ownKey(key) {
		return nil, fmt.Errorf("label key %q is the operator's own", key)
	}
	if folderAnnotation != "" {
		if errs := validation.IsQualifiedName(folderAnnotation); len(errs) > 0 {
			return nil, fmt.Errorf("folder annotation %q: %s", folderAnnotation, strings.Join(errs, "; "))
		}
		if ownKey(folderAnnotation) {
			return nil, fmt.Errorf("folder annotation %q is the operator's own", folderAnnotation)
		}
	}
	return &DashboardConfigMapOptions{LabelKey: key, LabelValue: value, FolderAnnotation: folderAnnotation}, nil
}

func ownKey(key string) bool {
	return key == ManagedByLabel || strings.HasPrefix(key, "reliability.dev/")
}

// dashboardConfigMapSuffix keeps the ConfigMap's name apart from the service's own ConfigMaps, which are
// often named like the service and so like the profile. A profile name has at most 63 characters, so the
// name stays far below the 253 a ConfigMap may have.
const dashboardConfigMapSuffix = "-dashboard"

// DashboardConfigMapName is the name of the profile's dashboard ConfigMap, in the profile's namespace.
func DashboardConfigMapName(profile string) string {
	return profile + dashboardConfigMapSuffix
}

// DashboardConfigMapKey is the ConfigMap's data key, which the sidecar writes as a file name into one folder
// shared by every namespace. The namespace is in it, so that two teams' profiles of the same name never write
// the same file; "_" occurs in neither a namespace nor a profile name, so no two pairs give the same key.
func DashboardConfigMapKey(namespace, profile string) string {
	return namespace + "_" + profile + ".json"
}

// DashboardConfigMap is the service's SLO dashboard as a ConfigMap for Grafana's sidecar: the same JSON as the
// GrafanaDashboard, in the profile's own namespace (a tenant's input is never written into Grafana's
// namespace; the sidecar searches the tenants' namespaces instead). It returns nil when the option is off or
// the profile disables its dashboard.
func DashboardConfigMap(rp *v1alpha1.ReliabilityProfile, opts Options) (*corev1.ConfigMap, error) {
	o := opts.DashboardConfigMaps
	if o == nil || dashboardDisabled(rp) {
		return nil, nil
	}
	content, err := DashboardContent(rp)
	if err != nil {
		return nil, err
	}
	meta := childMeta(rp, map[string]string{o.LabelKey: o.LabelValue})
	meta.Name = DashboardConfigMapName(rp.Name)
	if o.FolderAnnotation != "" {
		meta.Annotations = map[string]string{o.FolderAnnotation: folderDirectory(content.Folder, rp.Namespace)}
	}
	return &corev1.ConfigMap{
		TypeMeta:   typeMeta("v1", "ConfigMap"),
		ObjectMeta: meta,
		Data:       map[string]string{DashboardConfigMapKey(rp.Namespace, rp.Name): content.JSON},
	}, nil
}

// folderDirectory is the folder as the sidecar's annotation value, which the sidecar joins to its dashboard
// folder as a path (an absolute value replaces it) and Grafana turns into a folder title. spec.dashboard.folder
// is free text: a "/" or ".." in it would let a tenant write files anywhere the sidecar may, so every
// character that is not a letter, digit, space, '-', '_' or '.' becomes '_', and a name of dots alone falls
// back to the namespace.
func folderDirectory(folder, namespace string) string {
	safe := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == ' ' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, folder)
	if strings.Trim(safe, ". ") == "" {
		return namespace
	}
	return safe
}
