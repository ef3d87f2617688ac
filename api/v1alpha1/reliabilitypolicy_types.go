package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// PolicyName is the name of the one ReliabilityPolicy the operator reads. One policy for the cluster, not one
// per group of namespaces: the platform team that runs the operator owns the defaults, and a cluster whose
// namespaces need other defaults is a cluster whose teams declare them in their profiles. Several policies
// selected by namespace labels would let a label edit in one namespace change another team's alerts, and
// would need a rule for overlaps that nobody can see from a profile.
const PolicyName = "default"

// ReliabilityPolicySpec holds the platform's defaults for every profile of the cluster. Each field is
// optional: what it leaves out comes from the operator's flags, then from the manifesto's defaults. A
// profile's own field always wins over the policy (README, "For platform teams").
type ReliabilityPolicySpec struct {
	// Tiers are the defaults per tier of service.
	// +optional
	Tiers TierPolicies `json:"tiers,omitempty"`

	// Monitoring says how Prometheus finds the children.
	// +optional
	Monitoring *MonitoringPolicy `json:"monitoring,omitempty"`

	// Alerting adds labels to every alert of every profile, for routing in Alertmanager (such as a cluster
	// or an environment label), and names the severities of paging and ticket alerts.
	// +optional
	Alerting *AlertingPolicy `json:"alerting,omitempty"`

	// Backends are where backups, logs and dashboards go.
	// +optional
	Backends *BackendsPolicy `json:"backends,omitempty"`
}

// TierPolicies are the defaults of each tier.
type TierPolicies struct {
	// Critical applies to profiles of tier critical.
	// +optional
	Critical *TierPolicy `json:"critical,omitempty"`
	// NonCritical applies to profiles of tier non-critical.
	// +optional
	NonCritical *TierPolicy `json:"nonCritical,omitempty"`
}

// TierPolicy is what a tier's services get unless their profile says otherwise, and what they must meet.
type TierPolicy struct {
	// LogRetentionDays is how long the tier's logs are kept: at least 30 days for critical and 7 for
	// non-critical (O-5), at most 365.
	// +kubebuilder:validation:Minimum=7
	// +kubebuilder:validation:Maximum=365
	// +optional
	LogRetentionDays *int32 `json:"logRetentionDays,omitempty"`

	// MaxSpotFraction is the default largest share of a workload's pods on spot nodes, from "0" to "0.5"
	// (P-3: spot is at most 50%).
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]([.][0-9]{1,4})?$') && double(self) <= 0.5",message="maxSpotFraction: must be a fraction from 0 to 0.5 with at most four decimals, written as a string, such as \"0.3\" (P-3: spot is at most 50% of the fleet)"
	// +optional
	MaxSpotFraction string `json:"maxSpotFraction,omitempty"`

	// MinObjective is the lowest objective, in percent, an SLO of the tier may have, such as "99.9". A profile
	// below it is admitted, and R-2 fails naming the SLO and the minimum.
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,2}([.][0-9]{1,4})?$')",message="minObjective: must be a percentage below 100 with at most four decimals, such as \"99.9\" (R-2)"
	// +optional
	MinObjective string `json:"minObjective,omitempty"`

	// RPO is the recovery point objective a profile of the tier gets when it declares
	// spec.disasterRecovery without one, such as "1h" for critical services (24h when omitted): backups run
	// every half RPO, and an alert fires when none succeeded within it.
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) >= 10 && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 525600",message="rpo: must be a whole number of minutes, hours or days from 10m to 365d, such as 1h: backups run every half RPO, at most every 5 minutes (R-4)"
	// +optional
	RPO string `json:"rpo,omitempty"`

	// RestoreTestMaxAge is the default largest age of the last restore drill, in days, such as "90d".
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,2}d$') && int(self.substring(0, size(self) - 1)) <= 366",message="restoreTestMaxAge: must be a number of days from 1d to 366d, such as 90d (R-3)"
	// +optional
	RestoreTestMaxAge string `json:"restoreTestMaxAge,omitempty"`
}

// MonitoringPolicy says how Prometheus finds the children and who may scrape the services.
type MonitoringPolicy struct {
	// Labels are added to every ServiceMonitor and PrometheusRule so that Prometheus' serviceMonitorSelector
	// and ruleSelector select them (kube-prometheus-stack selects release=<its release>). They replace
	// --monitoring-labels.
	// +kubebuilder:validation:MaxProperties=10
	// +kubebuilder:validation:XValidation:rule="self.all(k, !format.qualifiedName().validate(k).hasValue())",message="monitoring.labels: each key must be a label key: an optional DNS subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', such as release"
	// +optional
	Labels map[string]LabelValue `json:"labels,omitempty"`

	// Namespace is where Prometheus runs: the NetworkPolicy of a profile that names no
	// spec.network.monitoringNamespaceSelector lets this namespace scrape the metrics port. Omitted, it is
	// monitoring.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="monitoring.namespace: must be a namespace name (DNS label), such as monitoring"
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// OperatorAlertLabels are the labels the operator sets on its alerts; neither the policy nor
// --alert-labels may set them.
var OperatorAlertLabels = []string{"severity", "service", "slo", "namespace", "alertname"}

// LabelValue is the value of a Kubernetes label.
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="monitoring.labels: each value must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, such as kube-prometheus-stack"
type LabelValue string

// AlertingPolicy holds what every alert carries.
type AlertingPolicy struct {
	// Labels are added to every alert the operator renders. severity, service, slo, namespace and alertname
	// are the operator's own and cannot be set here.
	// +kubebuilder:validation:MaxProperties=10
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['severity', 'service', 'slo', 'namespace', 'alertname']))",message="alerting.labels: severity, service, slo, namespace and alertname are set by the operator"
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && size(k) <= 63)",message="alerting.labels: each key must be a Prometheus label name (letters, digits and '_', not starting with a digit), at most 63 characters"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 256)",message="alerting.labels: each value is at most 256 characters"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// PageSeverity is the `severity` label value of paging alerts of every SLO that names none, such as
	// critical (kube-prometheus-stack's routing); page when omitted.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="alerting.pageSeverity: must be a label value of letters, digits, '-', '_' and '.', starting and ending with a letter or digit, such as critical"
	// +optional
	PageSeverity string `json:"pageSeverity,omitempty"`

	// TicketSeverity is the `severity` label value of ticket alerts of every SLO that names none, such as
	// warning; ticket when omitted.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="alerting.ticketSeverity: must be a label value of letters, digits, '-', '_' and '.', starting and ending with a letter or digit, such as warning"
	// +optional
	TicketSeverity string `json:"ticketSeverity,omitempty"`
}

// BackendsPolicy says where backups, logs and dashboards go. Each replaces the operator flag of the same
// name when set.
type BackendsPolicy struct {
	// VeleroNamespace is where Velero reads Schedules (--velero-namespace).
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="backends.veleroNamespace: must be a namespace name (DNS label), such as velero"
	// +optional
	VeleroNamespace string `json:"veleroNamespace,omitempty"`

	// LoggingClusterOutputs are the logging-operator ClusterOutputs of each log tier
	// (--logging-cluster-outputs).
	// +optional
	LoggingClusterOutputs *TierOutputs `json:"loggingClusterOutputs,omitempty"`

	// GrafanaInstanceSelector selects the grafana-operator Grafana instances that show the dashboards
	// (--grafana-instance-selector).
	// +optional
	GrafanaInstanceSelector *LabelSelector `json:"grafanaInstanceSelector,omitempty"`
}

// TierOutputs names a logging-operator ClusterOutput per log tier; both are needed.
type TierOutputs struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="backends.loggingClusterOutputs.critical: must be the name of a logging-operator ClusterOutput: lowercase letters, digits, '-' and '.', such as logs-30d"
	Critical string `json:"critical"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="backends.loggingClusterOutputs.nonCritical: must be the name of a logging-operator ClusterOutput: lowercase letters, digits, '-' and '.', such as logs-7d"
	NonCritical string `json:"nonCritical"`
}

// ReliabilityPolicy holds the platform team's defaults for every ReliabilityProfile of the cluster. There is
// one, named default.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=rpol,categories=reliability
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="metadata.name: must be default: the operator reads one ReliabilityPolicy for the cluster"
// +kubebuilder:validation:XValidation:rule="!has(self.spec.tiers) || !has(self.spec.tiers.critical) || !has(self.spec.tiers.critical.logRetentionDays) || self.spec.tiers.critical.logRetentionDays >= 30",message="spec.tiers.critical.logRetentionDays: must be at least 30 (O-5: critical logs are kept 30 days)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReliabilityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +optional
	Spec ReliabilityPolicySpec `json:"spec,omitempty"`
}

// ReliabilityPolicyList is a list of ReliabilityPolicies.
//
// +kubebuilder:object:root=true
type ReliabilityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReliabilityPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReliabilityPolicy{}, &ReliabilityPolicyList{})
}
