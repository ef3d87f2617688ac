package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Tier says how much the business depends on a service. It sets defaults elsewhere: log retention (O-5),
// whether a disaster-recovery runbook is required and how much of the service may run on spot (P-3).
// +kubebuilder:validation:Enum=critical;non-critical
type Tier string

const (
	TierCritical    Tier = "critical"
	TierNonCritical Tier = "non-critical"
)

// Mode says whether the operator changes the cluster or only reports.
// +kubebuilder:validation:Enum=Enforce;Audit
type Mode string

const (
	// ModeEnforce creates the children and corrects drift.
	ModeEnforce Mode = "Enforce"
	// ModeAudit creates, changes and deletes nothing; status and events say what Enforce would do. It is the
	// safe way to try a profile on a running service. A hand-written object that holds a child's name is
	// reported as a Conflict in both modes; the operator never adopts it.
	ModeAudit Mode = "Audit"
)

// ReliabilityProfileSpec is what a team declares about one service.
//
// The rules below run at admission time so that a bad profile is refused by `kubectl apply` and by Argo CD's
// sync, never accepted and then half-applied. Each message names the field and the manifesto rule.
//
// +kubebuilder:validation:XValidation:rule="self.tier != 'critical' || (has(self.disasterRecovery) && has(self.disasterRecovery.runbookURL)) || (has(self.exceptions) && self.exceptions.exists(e, e.rule == 'R-4'))",message="spec.disasterRecovery.runbookURL: required for tier critical (R-4: disaster-recovery playbooks for key components), unless spec.exceptions names R-4",fieldPath=".disasterRecovery.runbookURL"
// +kubebuilder:validation:XValidation:rule="!has(self.logs) || !has(self.logs.retentionDays) || self.logs.retentionDays <= ((has(self.logs.tier) ? self.logs.tier : self.tier) == 'critical' ? 30 : 7) || (has(self.exceptions) && self.exceptions.exists(e, e.rule == 'O-5'))",message="spec.logs.retentionDays: longer than the tier's retention (30 days critical, 7 days non-critical) needs an exception naming O-5 in spec.exceptions (F-1: no silent bypass)",fieldPath=".logs.retentionDays"
// +kubebuilder:validation:XValidation:rule="!has(self.logs) || !has(self.logs.retentionDays) || self.logs.retentionDays >= ((has(self.logs.tier) ? self.logs.tier : self.tier) == 'critical' ? 30 : 7)",message="spec.logs.retentionDays: shorter than the tier's retention (O-5: 30 days critical, 7 days non-critical)",fieldPath=".logs.retentionDays"
// +kubebuilder:validation:XValidation:rule="self.tier != 'critical' || !has(self.logs) || !has(self.logs.tier) || self.logs.tier == 'critical' || (has(self.exceptions) && self.exceptions.exists(e, e.rule == 'O-5'))",message="spec.logs.tier: a critical service keeps its logs on the critical tier (O-5: 30 days); the non-critical tier needs an exception naming O-5 in spec.exceptions (F-1: no silent bypass)",fieldPath=".logs.tier"
// +kubebuilder:validation:XValidation:rule="!has(self.routing) || !has(self.routing.labels) || !has(self.slos) || self.slos.all(s, !has(s.groupBy) || s.groupBy.all(g, !(g in self.routing.labels)))",message="spec.routing.labels: must not set a label an SLO groups by (spec.slos[].groupBy; it would overwrite the group's value on every series, merging the groups); remove it from routing.labels or from groupBy",fieldPath=".routing.labels"
type ReliabilityProfileSpec struct {
	// Service is the name of the service. It becomes the `service` label on every metric, alert and log stream
	// the operator configures (O-2, O-6).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="spec.service: must be lowercase letters, digits and '-', starting and ending with a letter or digit, such as \"checkout\"; it becomes the service label of every series and log stream (O-2)"
	Service string `json:"service"`

	// Tier is critical or non-critical.
	Tier Tier `json:"tier"`

	// Selector selects the service's pods in the profile's namespace. It must not be empty: an empty selector
	// would put every pod of the namespace under this profile's policies.
	// +kubebuilder:validation:XValidation:rule="(has(self.matchLabels) && size(self.matchLabels) > 0) || (has(self.matchExpressions) && size(self.matchExpressions) > 0)",message="spec.selector: must have at least one matchLabels entry or matchExpressions term; an empty selector selects every pod in the namespace"
	Selector LabelSelector `json:"selector"`

	// Mode is Enforce (default) or Audit.
	// +kubebuilder:default=Enforce
	// +optional
	Mode Mode `json:"mode,omitempty"`

	// Metrics describes where the service exposes its metrics (O-6, O-7, O-8).
	// +kubebuilder:default={}
	// +optional
	Metrics MetricsSpec `json:"metrics,omitempty"`

	// SLOs are the service's service-level objectives.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=20
	// +optional
	SLOs []SLO `json:"slos,omitempty"`

	// Network declares who may reach the service (S-2, S-4). When it is omitted the operator renders no
	// NetworkPolicy: a default-deny policy that nobody asked for would cut a running service off.
	// +optional
	Network *NetworkSpec `json:"network,omitempty"`

	// Public declares that the service is meant to be reached from the public internet, and why (S-2): a
	// LoadBalancer or NodePort Service, an Ingress or a Gateway API route attached to a Gateway in front of
	// the service then passes S-2. Omitted, any of those fails it.
	// +optional
	Public *PublicExposure `json:"public,omitempty"`

	// Disruption is the service's PodDisruptionBudget. Omitted, it is `maxUnavailable: 1`, which never blocks a
	// node drain and lets the service scale to zero (D-6).
	// +kubebuilder:default={maxUnavailable: 1}
	// +optional
	Disruption *DisruptionSpec `json:"disruption,omitempty"`

	// Logs sets the log retention tier (O-5).
	// +optional
	Logs *LogsSpec `json:"logs,omitempty"`

	// DisasterRecovery is the service's recovery plan.
	// +optional
	DisasterRecovery *DisasterRecoverySpec `json:"disasterRecovery,omitempty"`

	// Placement limits how much of the service runs on spot capacity (P-3).
	// +optional
	Placement *PlacementSpec `json:"placement,omitempty"`

	// Dashboard configures the service's Grafana dashboard.
	// +optional
	Dashboard *DashboardSpec `json:"dashboard,omitempty"`

	// Routing adds labels to every alert and every recorded series of the profile's PrometheusRule, and
	// annotations to every alert, so that Alertmanager can route them (team, slack_channel, ...). An SLO's
	// own spec.slos[].routing adds to it and wins on the same key; the labels the operator sets itself, and
	// the platform's alert labels (ReliabilityPolicy spec.alerting.labels, --alert-labels), win over both.
	// +optional
	Routing *Routing `json:"routing,omitempty"`

	// GameDays declares the service's game days (R-3: monthly game days, their impact measured). The
	// GameDayOverdue alert fires when the last one held ended longer ago than the cadence, and with
	// --prometheus-url the operator measures each held game day's impact into status.gameDays.
	// +optional
	GameDays *GameDaySpec `json:"gameDays,omitempty"`

	// Exceptions are the manifesto rules this service is allowed to deviate from, each with a reason and an
	// expiry (F-1: we do not silently bypass the rules).
	// +listType=map
	// +listMapKey=rule
	// +kubebuilder:validation:MaxItems=30
	// +optional
	Exceptions []Exception `json:"exceptions,omitempty"`
}

// MetricsSpec is where Prometheus scrapes the service.
type MetricsSpec struct {
	// Port is the container port serving metrics (O-7: 8067).
	// +kubebuilder:default=8067
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Port int32 `json:"port,omitempty"`

	// Path is the HTTP path of the metrics (O-6: /metrics).
	// +kubebuilder:default="/metrics"
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^/[!-~]*$')",message="spec.metrics.path: must be an absolute HTTP path without spaces, such as /metrics (O-6)"
	// +optional
	Path string `json:"path,omitempty"`

	// Interval is the scrape interval, a Prometheus duration.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:MinLength=2
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]{1,2}h)?([0-9]{1,4}m)?([0-9]{1,5}s)?([0-9]{1,6}ms)?$') && self.size() > 0 && duration(self) >= duration('1s') && duration(self) <= duration('1h')",message="spec.metrics.interval: must be a Prometheus scrape interval from 1s to 1h in units h, m, s and ms, largest first, such as 30s or 1m30s"
	// +optional
	Interval string `json:"interval,omitempty"`

	// ServiceSelector selects the Kubernetes Services the ServiceMonitor scrapes through. Omitted, it is the
	// profile's pod selector, which matches Services that carry their pods' labels (the common case).
	// +optional
	ServiceSelector *LabelSelector `json:"serviceSelector,omitempty"`

	// VersionMetric is the name of the metric that exposes the running version (O-8), such as
	// `myservice_build_info`. Alerts fire when it is absent.
	// +kubebuilder:validation:MaxLength=200
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z_:][a-zA-Z0-9_:]*$')",message="spec.metrics.versionMetric: must be a Prometheus metric name of letters, digits, '_' and ':', not starting with a digit, such as checkout_build_info (O-8)"
	// +optional
	VersionMetric string `json:"versionMetric,omitempty"`
}

// SLO is one service-level objective.
//
// +kubebuilder:validation:XValidation:rule="!has(self.maxGroups) || (has(self.groupBy) && size(self.groupBy) > 0)",message="spec.slos[].maxGroups: only applies with groupBy",fieldPath=".maxGroups"
// +kubebuilder:validation:XValidation:rule="!has(self.groupBy) || !has(self.routing) || !has(self.routing.labels) || self.groupBy.all(g, !(g in self.routing.labels))",message="spec.slos[].routing.labels: must not set a label the SLO groups by (it would overwrite the group's value on every series, merging the groups); remove it from routing.labels or from groupBy",fieldPath=".routing.labels"
// +kubebuilder:validation:XValidation:rule="!has(self.externalObjective) || !self.objective.matches('^[0-9]{1,2}([.][0-9]{1,6})?$') || !self.externalObjective.matches('^[0-9]{1,2}([.][0-9]{1,6})?$') || double(self.objective) > double(self.externalObjective)",message="spec.slos[].objective: must be strictly higher than externalObjective (R-2: the internal SLO is stricter than what customers are promised)",fieldPath=".objective"
type SLO struct {
	// Name identifies the SLO within the profile; it becomes the `slo` label.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="spec.slos[].name: must be lowercase letters, digits and '-', starting and ending with a letter or digit, such as \"availability\"; it becomes the slo label"
	Name string `json:"name"`

	// Description says what the SLO promises, in words.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// Objective is the internal target in percent, such as "99.9". A string, like Pyrra's, so that it
	// round-trips through Git and YAML tools unchanged. 100 is not allowed: it leaves no error budget.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,2}([.][0-9]{1,6})?$') && double(self) > 0.0",message="spec.slos[].objective: must be a percentage above 0 and below 100 with at most six decimals, written as a string, such as \"99.9\"; 100 leaves no error budget"
	Objective string `json:"objective"`

	// ExternalObjective is what customers are promised (the SLA), in percent. R-2 asks for the internal
	// objective to be strictly higher.
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,2}([.][0-9]{1,6})?$') && double(self) > 0.0",message="spec.slos[].externalObjective: must be a percentage above 0 and below 100 with at most six decimals, written as a string, such as \"99.5\" (R-2: below the objective)"
	// +optional
	ExternalObjective string `json:"externalObjective,omitempty"`

	// Window is the SLO's rolling window in days, from "7d" to "90d", such as "30d" (default) or "28d".
	// Shorter windows leave the fast burn-rate tiers no room between their long and short windows.
	// +kubebuilder:default="30d"
	// +kubebuilder:validation:MaxLength=3
	// +kubebuilder:validation:XValidation:rule="self.matches('^([7-9]|[1-8][0-9]|90)d$')",message="spec.slos[].window: must be a number of days from 7d to 90d, such as 30d or 28d"
	// +optional
	Window string `json:"window,omitempty"`

	// Indicator is how good and bad events are counted.
	Indicator Indicator `json:"indicator"`

	// Alerting tunes the multi-window multi-burn-rate alerts of this SLO.
	// +optional
	Alerting *SLOAlerting `json:"alerting,omitempty"`

	// Routing adds labels to this SLO's alerts and series and annotations to its alerts, over spec.routing.
	// +optional
	Routing *Routing `json:"routing,omitempty"`

	// GroupBy makes one SLO per value of these labels of the indicator's series, such as [route] or
	// [customer_tier]: every series and alert of the SLO carries them, and each group has its own error
	// budget and burn-rate alerts. The labels must be on the indicator's series (on both of a ratio's).
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && !k.startsWith('__'))",message="spec.slos[].groupBy: each entry must be a Prometheus label name (letters, digits and '_', not starting with a digit or '__'), such as route"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['service', 'slo', 'tier', 'namespace', 'severity', 'burnrate_tier', 'long_window', 'short_window', 'alertname', 'alertstate', 'le', 'field']))",message="spec.slos[].groupBy: service, slo, tier, namespace, severity, burnrate_tier, long_window, short_window, alertname, alertstate, le and field are the operator's own labels; group by a label of the indicator's series, such as route"
	// +optional
	GroupBy []string `json:"groupBy,omitempty"`

	// MaxGroups bounds the number of groups of a grouped SLO: above it, the SLOGroupsAboveBound alert (a
	// ticket) fires and the status says so, since every group costs its own series and alerts. Default 100;
	// at most 1000.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxGroups *int32 `json:"maxGroups,omitempty"`
}

// DefaultMaxGroups is the bound on the groups of a grouped SLO when spec.slos[].maxGroups is omitted.
const DefaultMaxGroups = 100

// Routing holds the labels and annotations added to alerts (and the labels to recorded series) for routing
// and ownership. Values may not contain "{{": Prometheus expands templates in alert labels and annotations,
// and a template can query any series of the Prometheus, other tenants' included.
//
// Its deep copy is written by hand (routing_deepcopy.go): controller-gen's object generator cannot copy a map
// whose values are of an alias type, and the aliases are what bound the values in the schema.
//
// +kubebuilder:object:generate=false
type Routing struct {
	// Labels such as team: payments. The operator's own labels cannot be set, nor those Prometheus and
	// prometheus-operator set (job, instance, and the external labels prometheus and prometheus_replica).
	// +kubebuilder:validation:MaxProperties=10
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && !k.startsWith('__') && size(k) <= 63)",message="routing.labels: each key must be a Prometheus label name (letters, digits and '_', not starting with a digit or '__'), at most 63 characters, such as team"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['service', 'slo', 'tier', 'namespace', 'severity', 'burnrate_tier', 'long_window', 'short_window', 'alertname', 'alertstate', 'le', 'field', 'job', 'instance', 'prometheus', 'prometheus_replica']))",message="routing.labels: service, slo, tier, namespace, severity, burnrate_tier, long_window, short_window, alertname, alertstate, le, field, job, instance, prometheus and prometheus_replica are set by the operator or Prometheus"
	// +optional
	Labels map[string]RoutingLabelValue `json:"labels,omitempty"`

	// Annotations such as dashboard_url or slack_channel, added to alerts only. summary and description are
	// the operator's; runbook_url comes from spec.slos[].alerting.runbookURL.
	// +kubebuilder:validation:MaxProperties=10
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$') && !k.startsWith('__') && size(k) <= 63)",message="routing.annotations: each key must be letters, digits and '_', not starting with a digit or '__' (Grafana keeps those for itself), at most 63 characters, such as dashboard_url"
	// +kubebuilder:validation:XValidation:rule="self.all(k, !(k in ['summary', 'description', 'runbook_url']))",message="routing.annotations: summary and description are written by the operator, and runbook_url comes from spec.slos[].alerting.runbookURL or spec.disasterRecovery.runbookURL"
	// +optional
	Annotations map[string]RoutingAnnotationValue `json:"annotations,omitempty"`
}

// RoutingLabelValue is the value of a routing label. Its bounds are on the type, not in a rule of the map:
// the API server prices a map's rule by the longest value the schema allows, and a map of unbounded strings
// puts the CRD over its CEL cost budget. It is an alias, so that Labels stays a map[string]string to Go code;
// controller-gen still reads its markers into the schema of the map's values. Control characters (newlines included) and bidirectional overrides
// are refused: a label value is a routing key, and in a notification they forge or hide text.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:XValidation:rule="!self.contains('{{')",message="routing.labels: a value must not contain '{{' (Prometheus would expand it as a template, which can read other tenants' series), such as payments"
// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\p{Cc}\\x{200E}\\x{200F}\\x{2028}\\x{2029}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]')",message="routing.labels: a value must not contain control characters (newlines and tabs included), line or paragraph separators, or bidirectional marks, embeddings, overrides or isolates, such as payments"
type RoutingLabelValue = string

// RoutingAnnotationValue is the value of a routing annotation: bounded on the type, as RoutingLabelValue.
// Newlines and tabs are allowed (a note may span lines), other control characters and bidirectional controls
// are not.
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:XValidation:rule="!self.contains('{{')",message="routing.annotations: a value must not contain '{{' (Prometheus would expand it as a template, which can read other tenants' series), such as https://grafana.example.com/d/checkout"
// +kubebuilder:validation:XValidation:rule="!self.matches(r'[\\x00-\\x08\\x0B-\\x1F\\x7F-\\x9F\\x{200E}\\x{200F}\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}]')",message="routing.annotations: a value must not contain control characters other than newline and tab, or bidirectional marks, embeddings, overrides or isolates, such as https://grafana.example.com/d/checkout"
type RoutingAnnotationValue = string

// Indicator has exactly one of ratio, latency, boolGauge or promQL.
//
// +kubebuilder:validation:XValidation:rule="(has(self.ratio) ? 1 : 0) + (has(self.latency) ? 1 : 0) + (has(self.boolGauge) ? 1 : 0) + (has(self.promQL) ? 1 : 0) == 1",message="spec.slos[].indicator: set exactly one of ratio, latency, boolGauge or promQL"
type Indicator struct {
	// Ratio counts errors against all requests.
	// +optional
	Ratio *RatioIndicator `json:"ratio,omitempty"`

	// Latency counts requests slower than a threshold as errors.
	// +optional
	Latency *LatencyIndicator `json:"latency,omitempty"`

	// BoolGauge counts the time a 0/1 gauge is 0 as bad time: probe_success, up, or a kube-state-metrics
	// condition such as kube_deployment_status_condition{condition="Available",status="true"}.
	// +optional
	BoolGauge *BoolGaugeIndicator `json:"boolGauge,omitempty"`

	// PromQL is an error ratio of two PromQL expressions, for what selectors cannot say.
	// +optional
	PromQL *PromQLIndicator `json:"promQL,omitempty"`
}

// BoolGaugeIndicator is good time over total time of a gauge that is 1 when good and 0 when bad, sampled at
// every scrape: the SLI is the share of samples that are 1. A scrape that fails leaves no sample and is not
// counted; use up as the gauge to count it.
type BoolGaugeIndicator struct {
	// Selector is a PromQL selector of the gauge, such as probe_success{job="blackbox",instance="https://shop.example.com"}.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Selector string `json:"selector"`
}

// PromQLIndicator is an error ratio of two PromQL expressions of per-second rates, each written with the
// placeholder $window where its range goes, such as sum(rate(grpc_server_handled_total{grpc_code!="OK"}[$window])).
// The operator evaluates them over 5m only and derives every longer window from the recorded 5m rates. Every
// selector without a namespace matcher is limited to the profile's namespace, and each expression is summed
// by the SLO's groupBy labels, so that it yields one series per group.
type PromQLIndicator struct {
	// Errors is the rate of bad events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.contains('$window')",message="spec.slos[].indicator.promQL.errors: must use $window as the range of its rates, such as sum(rate(http_requests_total{code=~\"5..\"}[$window]))"
	Errors string `json:"errors"`

	// Total is the rate of all events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.contains('$window')",message="spec.slos[].indicator.promQL.total: must use $window as the range of its rates, such as sum(rate(http_requests_total[$window]))"
	Total string `json:"total"`
}

// RatioIndicator is an error ratio of two counters.
type RatioIndicator struct {
	// Errors is a PromQL selector of a counter of failed requests, such as
	// `http_requests_total{job="api",code=~"5.."}`. The operator wraps it in rate() over each window.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Errors string `json:"errors"`

	// Total is a PromQL selector of a counter of all requests, such as `http_requests_total{job="api"}`.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Total string `json:"total"`
}

// LatencyIndicator counts requests slower than Threshold as errors.
type LatencyIndicator struct {
	// Histogram is a PromQL selector of the histogram without its suffix, such as
	// `http_request_duration_seconds{job="api"}`; the operator reads `_bucket` and `_count`.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	Histogram string `json:"histogram"`

	// Threshold is the latency bound in the histogram's unit. It must be one of the histogram's bucket bounds
	// (`le` values), such as "0.25".
	// +kubebuilder:validation:MaxLength=20
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,10}([.][0-9]{1,9})?$') && double(self) > 0.0",message="spec.slos[].indicator.latency.threshold: must be a positive decimal number in the histogram's unit, one of its bucket bounds, such as \"0.25\""
	Threshold string `json:"threshold"`

	// NativeHistogram reads a Prometheus native histogram through histogram_fraction instead of classic
	// buckets.
	// +optional
	NativeHistogram bool `json:"nativeHistogram,omitempty"`
}

// Severity is the severity label of an alert.
// +kubebuilder:validation:Enum=page;ticket
type Severity string

const (
	SeverityPage   Severity = "page"
	SeverityTicket Severity = "ticket"
)

// SLOAlerting tunes the burn-rate alerts of one SLO.
type SLOAlerting struct {
	// Disabled renders the recording rules but no burn-rate alerts.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// PageSeverity is the `severity` label value of paging alerts. Omitted, it is the ReliabilityPolicy's
	// spec.alerting.pageSeverity, else page.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="spec.slos[].alerting.pageSeverity: must be a label value of letters, digits, '-', '_' and '.', starting and ending with a letter or digit, such as page or critical"
	// +optional
	PageSeverity string `json:"pageSeverity,omitempty"`

	// TicketSeverity is the `severity` label value of ticket alerts. Omitted, it is the ReliabilityPolicy's
	// spec.alerting.ticketSeverity, else ticket.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="spec.slos[].alerting.ticketSeverity: must be a label value of letters, digits, '-', '_' and '.', starting and ending with a letter or digit, such as ticket or warning"
	// +optional
	TicketSeverity string `json:"ticketSeverity,omitempty"`

	// Tiers overrides or disables the default burn-rate tiers by name (page-fast, page-slow, ticket-fast,
	// ticket-slow) or adds new ones.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=8
	// +optional
	Tiers []BurnRateTier `json:"tiers,omitempty"`

	// RunbookURL is the runbook linked from this SLO's alerts; it overrides spec.disasterRecovery.runbookURL.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^[:space:]]+$') && isURL(self)",message="spec.slos[].alerting.runbookURL: must be an http or https URL without spaces, such as https://runbooks.example.com/checkout"
	// +optional
	RunbookURL string `json:"runbookURL,omitempty"`
}

// BurnRateTier is one row of the multi-window multi-burn-rate table.
//
// +kubebuilder:validation:XValidation:rule="!has(self.longWindow) || !has(self.shortWindow) || int(self.shortWindow.substring(0, size(self.shortWindow) - 1)) * (self.shortWindow.endsWith('d') ? 1440 : (self.shortWindow.endsWith('h') ? 60 : 1)) < int(self.longWindow.substring(0, size(self.longWindow) - 1)) * (self.longWindow.endsWith('d') ? 1440 : (self.longWindow.endsWith('h') ? 60 : 1))",message="spec.slos[].alerting.tiers[].shortWindow: must be shorter than longWindow",fieldPath=".shortWindow"
// +kubebuilder:validation:XValidation:rule="(has(self.disabled) && self.disabled) || (has(self.burnRate) && has(self.longWindow) && has(self.shortWindow) && has(self.severity)) || self.name in ['page-fast', 'page-slow', 'ticket-fast', 'ticket-slow']",message="spec.slos[].alerting.tiers[]: a new tier needs severity, burnRate, longWindow and shortWindow"
type BurnRateTier struct {
	// Name of the tier; the default tiers are page-fast, page-slow, ticket-fast and ticket-slow.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="spec.slos[].alerting.tiers[].name: must be lowercase letters, digits and '-', such as page-fast (the default tiers are page-fast, page-slow, ticket-fast and ticket-slow)"
	Name string `json:"name"`

	// Disabled removes the tier.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Severity is page or ticket.
	// +optional
	Severity Severity `json:"severity,omitempty"`

	// BurnRate is the factor of the sustainable error rate that fires the alert, such as "14.4".
	// +kubebuilder:validation:MaxLength=10
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{1,6}([.][0-9]{1,3})?$') && double(self) > 0.0",message="spec.slos[].alerting.tiers[].burnRate: must be a positive decimal number, the factor of the sustainable error rate, such as \"14.4\""
	// +optional
	BurnRate string `json:"burnRate,omitempty"`

	// LongWindow is the long window, a Prometheus duration such as "1h".
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 129600",message="spec.slos[].alerting.tiers[].longWindow: must be a whole number of minutes, hours or days, at most 90d, such as 1h"
	// +optional
	LongWindow string `json:"longWindow,omitempty"`

	// ShortWindow is the short window, a Prometheus duration such as "5m".
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 129600",message="spec.slos[].alerting.tiers[].shortWindow: must be a whole number of minutes, hours or days, at most 90d, such as 5m"
	// +optional
	ShortWindow string `json:"shortWindow,omitempty"`
}

// NetworkSpec is the service's ingress policy. Everything not listed is denied (S-2, S-4).
type NetworkSpec struct {
	// Ingress lists who may reach which ports of the service's pods.
	// +kubebuilder:validation:MaxItems=20
	// +optional
	Ingress []IngressRule `json:"ingress,omitempty"`

	// MonitoringNamespaceSelector selects the namespaces allowed to scrape the metrics port. Omitted, it is
	// the ReliabilityPolicy's spec.monitoring.namespace, else the namespace named `monitoring` (not written
	// into the profile, so that a change of the policy reaches it).
	// +optional
	MonitoringNamespaceSelector *LabelSelector `json:"monitoringNamespaceSelector,omitempty"`
}

// IngressRule allows traffic from a set of peers to a set of ports.
type IngressRule struct {
	// From lists the allowed sources. At least one is required: "from anywhere" must be written as the CIDR
	// 0.0.0.0/0 so that a public exposure is always explicit (S-2).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=20
	From []IngressPeer `json:"from"`

	// Ports lists the allowed destination ports. At least one is required.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	Ports []IngressPort `json:"ports"`
}

// IngressPeer is one source of traffic: pods and namespaces by label, or an IP block.
//
// +kubebuilder:validation:XValidation:rule="has(self.cidr) != (has(self.namespaceSelector) || has(self.podSelector))",message="spec.network.ingress[].from[]: set either cidr or namespaceSelector/podSelector, not both and not neither"
// +kubebuilder:validation:XValidation:rule="!has(self.except) || has(self.cidr)",message="spec.network.ingress[].from[].except: only allowed with cidr"
// +kubebuilder:validation:XValidation:rule="!has(self.except) || !has(self.cidr) || !isCIDR(self.cidr) || self.except.all(c, !isCIDR(c) || (cidr(c).ip().family() == cidr(self.cidr).ip().family() && cidr(self.cidr).containsCIDR(c) && cidr(c).prefixLength() > cidr(self.cidr).prefixLength()))",message="spec.network.ingress[].from[].except: every entry must be a CIDR strictly inside cidr and of the same IP family, such as 10.1.0.0/16 inside 10.0.0.0/8",fieldPath=".except"
type IngressPeer struct {
	// NamespaceSelector selects source namespaces. With only podSelector, the profile's own namespace is meant.
	// +optional
	NamespaceSelector *LabelSelector `json:"namespaceSelector,omitempty"`

	// PodSelector selects source pods.
	// +optional
	PodSelector *LabelSelector `json:"podSelector,omitempty"`

	// CIDR is a source IP block, such as "10.0.0.0/8".
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="isCIDR(self)",message="spec.network.ingress[].from[].cidr: must be an IPv4 or IPv6 CIDR such as 10.0.0.0/8 or 2001:db8::/32; 0.0.0.0/0 for anywhere (S-2)"
	// +optional
	CIDR string `json:"cidr,omitempty"`

	// Except lists CIDRs inside cidr that are not allowed.
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="spec.network.ingress[].from[].except: every entry must be an IPv4 or IPv6 CIDR such as 10.1.0.0/16"
	// +optional
	Except []string `json:"except,omitempty"`
}

// Protocol is a transport protocol.
// +kubebuilder:validation:Enum=TCP;UDP;SCTP
type Protocol string

// IngressPort is a destination port or port range.
//
// +kubebuilder:validation:XValidation:rule="!has(self.endPort) || self.endPort >= self.port",message="spec.network.ingress[].ports[].endPort: must not be lower than port"
type IngressPort struct {
	// Port is the destination port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// EndPort makes the rule cover the range port..endPort.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	EndPort *int32 `json:"endPort,omitempty"`

	// Protocol defaults to TCP.
	// +kubebuilder:default=TCP
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`
}

// DisruptionSpec is exactly one of maxUnavailable or minAvailable.
//
// +kubebuilder:validation:XValidation:rule="has(self.maxUnavailable) != has(self.minAvailable)",message="spec.disruption: set exactly one of maxUnavailable or minAvailable"
type DisruptionSpec struct {
	// MaxUnavailable is how many pods (or what percentage) may be down at once during voluntary disruptions.
	// 0 and "0%" are refused: they block every node drain (D-6).
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self > 0 && self <= 1000000) : self.matches('^([1-9][0-9]?|100)%$')",message="spec.disruption.maxUnavailable: must be a number of pods from 1 to 1000000 or a percentage from 1% to 100%, such as 1 or 25%; 0 blocks every node drain (D-6)"
	// +optional
	MaxUnavailable *intstr.IntOrString `json:"maxUnavailable,omitempty"`

	// MinAvailable is how many pods (or what percentage) must stay up during voluntary disruptions.
	// "100%" is refused: it blocks every node drain (D-6).
	// +kubebuilder:validation:XIntOrString
	// +kubebuilder:validation:XValidation:rule="type(self) == int ? (self >= 0 && self <= 1000000) : self.matches('^([0-9]|[1-9][0-9])%$')",message="spec.disruption.minAvailable: must be a number of pods from 0 to 1000000 or a percentage from 0% to 99%, such as 1 or 50%; 100% blocks every node drain (D-6)"
	// +optional
	MinAvailable *intstr.IntOrString `json:"minAvailable,omitempty"`
}

// LogsSpec sets the log retention of the service (O-5).
type LogsSpec struct {
	// Tier is the log tier; omitted, it is the profile's tier. critical keeps logs 30 days, non-critical 7.
	// +optional
	Tier Tier `json:"tier,omitempty"`

	// RetentionDays overrides the tier's retention. Longer than the tier needs an O-5 exception, up to 365.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=365
	// +optional
	RetentionDays *int32 `json:"retentionDays,omitempty"`
}

// DisasterRecoverySpec is the service's recovery plan and drill record.
type DisasterRecoverySpec struct {
	// RPO is the recovery point objective: the most data, in time, the service may lose. Such as "1h". At
	// least 10m: backups run every half RPO, and no more often than every 5 minutes.
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) >= 10 && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 525600",message="spec.disasterRecovery.rpo: must be a whole number of minutes, hours or days from 10m to 365d, such as 1h: backups run every half RPO, at most every 5 minutes"
	// +optional
	RPO string `json:"rpo,omitempty"`

	// RTO is the recovery time objective: the longest the service may be down after a disaster. Such as "4h".
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 525600",message="spec.disasterRecovery.rto: must be a whole number of minutes, hours or days up to 365d, such as 4h"
	// +optional
	RTO string `json:"rto,omitempty"`

	// RunbookURL links the disaster-recovery runbook. It also becomes the runbook_url of the service's alerts.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^[:space:]]+$') && isURL(self)",message="spec.disasterRecovery.runbookURL: must be an http or https URL without spaces, such as https://runbooks.example.com/checkout/restore (R-4)"
	// +optional
	RunbookURL string `json:"runbookURL,omitempty"`

	// Backup is what Velero backs up, and how long it keeps it.
	// +optional
	Backup *BackupSpec `json:"backup,omitempty"`

	// LastRestoreTest is the date of the last restore drill or game day, such as "2026-10-01".
	// +kubebuilder:validation:Format=date
	// +optional
	LastRestoreTest string `json:"lastRestoreTest,omitempty"`

	// RestoreTestMaxAge is how old the last restore drill may be before an alert fires. Omitted, it is the
	// ReliabilityPolicy's for the tier, else 90 days (not written into the profile, so that a change of the
	// policy reaches it).
	// +kubebuilder:validation:MaxLength=4
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,2}d$') && int(self.substring(0, size(self) - 1)) <= 366",message="spec.disasterRecovery.restoreTestMaxAge: must be a number of days from 1d to 366d, such as 90d (R-3)"
	// +optional
	RestoreTestMaxAge string `json:"restoreTestMaxAge,omitempty"`
}

// GameDaySpec is the service's game-day cadence and record.
type GameDaySpec struct {
	// Cadence is how often a game day is held, in days, such as "30d" (default: monthly).
	// +kubebuilder:default="30d"
	// +kubebuilder:validation:MaxLength=4
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,2}d$') && int(self.substring(0, size(self) - 1)) >= 7 && int(self.substring(0, size(self) - 1)) <= 366",message="spec.gameDays.cadence: must be a number of days from 7d to 366d, such as 30d (R-3: monthly game days)"
	// +optional
	Cadence string `json:"cadence,omitempty"`

	// Held are the game days held, each with its window. The operator measures the impact of each one that
	// has ended into status.gameDays.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=24
	// +optional
	Held []GameDay `json:"held,omitempty"`
}

// GameDay is one game day: when chaos was injected, and where its follow-up actions are written down.
//
// The window rules run only on times of the form the field rules accept: timestamp() of anything else fails
// to evaluate, which refuses the profile with an error about the rule instead of the field.
//
// +kubebuilder:validation:XValidation:rule="!(self.start.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self.start).hasValue() && self.end.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self.end).hasValue()) || timestamp(self.end) > timestamp(self.start)",message="spec.gameDays.held[].end: must be after start",fieldPath=".end"
// +kubebuilder:validation:XValidation:rule="!(self.start.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self.start).hasValue() && self.end.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self.end).hasValue()) || timestamp(self.end) - timestamp(self.start) <= duration('24h')",message="spec.gameDays.held[].end: a game day's window is at most 24h after its start; declare a longer exercise as several game days",fieldPath=".end"
type GameDay struct {
	// Name identifies the game day, such as 2026-11-db-failover.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Label().validate(self).hasValue()",message="spec.gameDays.held[].name: must be lowercase letters, digits and '-', such as 2026-11-db-failover"
	Name string `json:"name"`

	// Start and End bound the window chaos was injected in, RFC 3339 times such as 2026-11-12T14:00:00Z.
	// They are not of the schema's date-time format: that format accepts what Go's time.Parse(time.RFC3339)
	// refuses (a lower-case t or z, any character before the fraction, an offset such as +99:99), and CEL
	// then fails to read such a time and refuses the profile with an evaluation error. The rule holds a time
	// to the form both read, and the format library checks its date and clock.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self).hasValue()",message="spec.gameDays.held[].start: must be an RFC 3339 time from 1970 to 2999, with an upper-case T and Z or an offset such as +01:00, such as 2026-11-12T14:00:00Z"
	Start string `json:"start"`
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^(19[7-9][0-9]|2[0-9]{3})-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$') && !format.datetime().validate(self).hasValue()",message="spec.gameDays.held[].end: must be an RFC 3339 time from 1970 to 2999, with an upper-case T and Z or an offset such as +01:00, such as 2026-11-12T14:00:00Z"
	End string `json:"end"`

	// Scenario says what was injected, such as "primary database failover".
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Scenario string `json:"scenario,omitempty"`

	// ActionsURL links the post-game-day actions.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^[:space:]]+$') && isURL(self)",message="spec.gameDays.held[].actionsURL: must be an http or https URL without spaces, such as https://wiki.example.com/gamedays/2026-11"
	// +optional
	ActionsURL string `json:"actionsURL,omitempty"`
}

// BackupSpec describes the Velero backup of the service. It always covers the profile's own namespace only:
// a profile is written by the team of that namespace, and must not make the operator back up anyone else's.
type BackupSpec struct {
	// LabelSelector backs up only the objects it selects in the profile's namespace.
	// +optional
	LabelSelector *LabelSelector `json:"labelSelector,omitempty"`

	// StorageLocation is the name of the Velero BackupStorageLocation.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.dns1123Subdomain().validate(self).hasValue()",message="spec.disasterRecovery.backup.storageLocation: must be the name of a Velero BackupStorageLocation: lowercase letters, digits, '-' and '.', such as default"
	// +optional
	StorageLocation string `json:"storageLocation,omitempty"`

	// Retention is how long backups are kept, such as "720h".
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[1-9][0-9]{0,4}(m|h|d)$') && int(self.substring(0, size(self) - 1)) * (self.endsWith('d') ? 1440 : (self.endsWith('h') ? 60 : 1)) <= 5256000",message="spec.disasterRecovery.backup.retention: must be a whole number of minutes, hours or days up to 3650d, such as 720h or 30d"
	// +optional
	Retention string `json:"retention,omitempty"`
}

// PlacementSpec limits the share of the service's pods on spot nodes (P-3).
type PlacementSpec struct {
	// MaxSpotFraction is the largest share of a workload's pods that may run on spot nodes, from "0" to "0.5".
	// Omitted, it is 0.5 for non-critical services and 0 for critical ones.
	// +kubebuilder:validation:MaxLength=6
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]([.][0-9]{1,4})?$')",message="spec.placement.maxSpotFraction: must be a fraction from 0 to 0.5 with at most four decimals, written as a string, such as \"0.3\""
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9]([.][0-9]{1,4})?$') || double(self) <= 0.5",message="spec.placement.maxSpotFraction: must be at most 0.5 (P-3: spot is at most 50% of the fleet)"
	// +optional
	MaxSpotFraction string `json:"maxSpotFraction,omitempty"`

	// SpotNodeLabel is the node label that marks spot capacity. Omitted, the labels of Karpenter, EKS, GKE
	// and AKS are all recognised.
	// +optional
	SpotNodeLabel *NodeLabel `json:"spotNodeLabel,omitempty"`
}

// LabelSelector selects objects by label. It has the shape of Kubernetes' LabelSelector, with bounds that let
// the API server check every selector at admission time (an unknown operator or a missing value list would
// otherwise be accepted here and refused later, when a child is applied).
type LabelSelector struct {
	// MatchLabels selects objects that carry all these labels.
	// +kubebuilder:validation:MaxProperties=20
	// Lengths only: the format of every key and value is checked by the validating webhook, because a CEL
	// format check of every selector in every ingress peer is estimated over the API server's cost budget.
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && size(self[k]) <= 63)",message="matchLabels: every key must be a label key of at most 317 characters (a prefix of at most 253, '/', a name of at most 63) and every value a label value of at most 63 characters, such as app.kubernetes.io/name: checkout"
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`

	// MatchExpressions selects objects whose labels satisfy all these requirements.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one requirement on a label.
//
// +kubebuilder:validation:XValidation:rule="self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",message="matchExpressions[].values: In and NotIn need values; Exists and DoesNotExist take none"
type LabelSelectorRequirement struct {
	// Key is the label key.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	Key string `json:"key"`

	// Operator is In, NotIn, Exists or DoesNotExist.
	// +kubebuilder:validation:Enum=In;NotIn;Exists;DoesNotExist
	Operator metav1.LabelSelectorOperator `json:"operator"`

	// Values for In and NotIn.
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=atomic
	// +optional
	Values []string `json:"values,omitempty"`
}

// Meta is the selector as Kubernetes' own type, for the children that embed it.
func (s *LabelSelector) Meta() *metav1.LabelSelector {
	if s == nil {
		return nil
	}
	out := &metav1.LabelSelector{}
	if s.MatchLabels != nil {
		out.MatchLabels = make(map[string]string, len(s.MatchLabels))
		for k, v := range s.MatchLabels {
			out.MatchLabels[k] = v
		}
	}
	for _, e := range s.MatchExpressions {
		out.MatchExpressions = append(out.MatchExpressions, metav1.LabelSelectorRequirement{
			Key: e.Key, Operator: e.Operator, Values: append([]string(nil), e.Values...),
		})
	}
	return out
}

// NodeLabel is a node label key and value. The webhook writes both into pods' node affinity and
// tolerations, so a key the API server would refuse there is refused here first.
type NodeLabel struct {
	// Key of the label: an optional DNS subdomain prefix and "/", and a name of at most 63 characters.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=317
	// +kubebuilder:validation:XValidation:rule="!format.qualifiedName().validate(self).hasValue()",message="spec.placement.spotNodeLabel.key: must be a label key the API server accepts in a pod's node affinity: an optional DNS subdomain prefix of at most 253 characters and '/', then a name of at most 63 letters, digits, '-', '_' or '.', such as karpenter.sh/capacity-type"
	Key string `json:"key"`

	// Value of the label.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="!format.labelValue().validate(self).hasValue()",message="spec.placement.spotNodeLabel.value: must be a label value: at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, such as spot"
	Value string `json:"value"`
}

// DashboardSpec configures the Grafana dashboard of the service.
type DashboardSpec struct {
	// Disabled renders no dashboard.
	// +optional
	Disabled bool `json:"disabled,omitempty"`

	// Folder is the Grafana folder; omitted, the profile's namespace.
	// +kubebuilder:validation:MaxLength=140
	// +optional
	Folder string `json:"folder,omitempty"`
}

// PublicExposure is why a service faces the public internet (S-2).
type PublicExposure struct {
	// Reason says why the service must be public, for the people who review it, such as "the storefront".
	// +kubebuilder:validation:MinLength=10
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`
}

// Exception records an agreed deviation from one manifesto rule (F-1).
type Exception struct {
	// Rule is the manifesto rule id, such as "O-5".
	// +kubebuilder:validation:MaxLength=4
	// +kubebuilder:validation:XValidation:rule="self in ['F-1', 'F-2', 'F-3', 'C-1', 'C-2', 'C-3', 'C-4', 'D-1', 'D-2', 'D-3', 'D-4', 'D-5', 'D-6', 'O-1', 'O-2', 'O-3', 'O-4', 'O-5', 'O-6', 'O-7', 'O-8', 'O-9', 'O-10', 'O-11', 'P-1', 'P-2', 'P-3', 'P-4', 'R-1', 'R-2', 'R-3', 'R-4', 'S-1', 'S-2', 'S-3', 'S-4', 'S-5', 'S-6']",message="spec.exceptions[].rule: must be a rule id of the manifesto, such as O-5: F-1 to F-3, C-1 to C-4, D-1 to D-6, O-1 to O-11, P-1 to P-4, R-1 to R-4 or S-1 to S-6"
	Rule string `json:"rule"`

	// Reason says why the rule does not fit, for the people who review it.
	// +kubebuilder:validation:MinLength=10
	// +kubebuilder:validation:MaxLength=1024
	Reason string `json:"reason"`

	// Expires is the last day the exception holds, such as "2027-03-31": at most 183 days after it is
	// written. Rules are reviewed twice a year (F-3), so exceptions do not last forever. Once it has passed,
	// the rule is judged again in status.compliance[].
	// +kubebuilder:validation:Format=date
	Expires string `json:"expires"`

	// ApprovedBy names who agreed to the exception, such as a person or a review ticket (F-1).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ApprovedBy string `json:"approvedBy,omitempty"`
}

// ChildState is the state of one child object.
// +kubebuilder:validation:Enum=InSync;Drifted;Missing;Conflict;Failed
type ChildState string

const (
	// ChildInSync: the live object matches the desired one.
	ChildInSync ChildState = "InSync"
	// ChildDrifted: someone else changed fields the operator owns.
	ChildDrifted ChildState = "Drifted"
	// ChildMissing: the object does not exist (in Audit mode the operator does not create it).
	ChildMissing ChildState = "Missing"
	// ChildConflict: an object of that name exists and is not owned by this profile; it is left untouched.
	ChildConflict ChildState = "Conflict"
	// ChildFailed: the API server refused the object, or the kind is not installed.
	ChildFailed ChildState = "Failed"
)

// ChildStatus reports one child object of the profile.
type ChildStatus struct {
	// APIVersion of the child.
	APIVersion string `json:"apiVersion"`
	// Kind of the child.
	Kind string `json:"kind"`
	// Name of the child, in the profile's namespace.
	Name string `json:"name"`
	// State of the child.
	State ChildState `json:"state"`
	// Message explains the state.
	// +optional
	Message string `json:"message,omitempty"`
	// LastDriftTime is when the operator last found the child changed by someone else.
	// +optional
	LastDriftTime *metav1.Time `json:"lastDriftTime,omitempty"`
}

// Condition types of a ReliabilityProfile.
const (
	// ReadyCondition is True when every child is in sync and nothing is degraded, and in Audit mode when the
	// report of what differs is complete (reason AuditOnly). It is derived from the
	// others, so that `kubectl wait --for=condition=Ready` and Argo CD's health checks have one place to look.
	ReadyCondition = "Ready"
	// DriftedCondition is True while a child differs from what the profile declares because someone else
	// changed it (in Enforce mode it is corrected in the same reconcile, and the condition records it).
	DriftedCondition = "Drifted"
	// DegradedCondition is True when a child could not be applied: a conflict, a refusal or a missing CRD.
	DegradedCondition = "Degraded"
	// RulesLoadedCondition says whether Prometheus has loaded the profile's rule groups. Set only when the
	// operator runs with --prometheus-url; it does not affect Ready, which is about the children.
	RulesLoadedCondition = "RulesLoaded"
	// SpotWithinLimitCondition (P-3) says whether the share of the service's pods on spot nodes is within
	// the profile's limit, as observed from Pods and Nodes. Set only when the operator runs with
	// --spot-placement; it does not affect Ready, which is about the children.
	SpotWithinLimitCondition = "SpotWithinLimit"
	// StalledCondition follows the kstatus conventions (sigs.k8s.io/cli-utils, read by Flux, kpt and kubectl
	// waiters): True when the operator cannot bring the children to the spec without someone acting, such
	// as a foreign object in a child's place, an apply the API server refused, a kind that is not installed
	// or a query that does not parse. kstatus then reports Failed. Absent otherwise.
	StalledCondition = "Stalled"
	// ReconcilingCondition follows the kstatus conventions: True while the operator works towards the spec
	// and expects to get there on its own, such as retrying a child after a timeout or an API server that
	// was not available. kstatus then reports InProgress, as it does while observedGeneration lags the
	// generation. Absent otherwise.
	ReconcilingCondition = "Reconciling"
	// CompliantCondition is True when every manifesto rule that applies to the service passes or is waived
	// (status.compliance[]), False when one fails, Unknown when none fails and the operator cannot judge
	// one. It does not affect Ready, which is about the children.
	CompliantCondition = "Compliant"
	// SLOInputsCondition says whether every SLO's input series exist in Prometheus: False while an
	// SLOInputAbsent or SLOThresholdNotABucket alert of the profile is pending or firing, naming the field
	// and the selector as written, Unknown when Prometheus could not be read. Set only with --prometheus-url;
	// it does not affect Ready, which is about the children.
	SLOInputsCondition = "SLOInputs"
)

// Condition reasons of a ReliabilityProfile.
const (
	// ReconciledReason: every child is in sync.
	ReconciledReason = "Reconciled"
	// AuditOnlyReason (Ready=True): Audit mode, the report is complete, and children are missing or differ
	// from the profile; nothing was changed.
	AuditOnlyReason = "AuditOnly"
	// NoDriftReason: no child was changed by someone else.
	NoDriftReason = "NoDrift"
	// DriftCorrectedReason: a child was changed by someone else and the operator restored it.
	DriftCorrectedReason = "DriftCorrected"
	// DriftDetectedReason: a child was changed by someone else and left as it is (Audit mode).
	DriftDetectedReason = "DriftDetected"
	// ForeignObjectReason: an object with a child's name exists and belongs to someone else.
	ForeignObjectReason = "ForeignObject"
	// ApplyFailedReason: the API server refused a child.
	ApplyFailedReason = "ApplyFailed"
	// KindNotInstalledReason: the CRD of a child kind is not installed in the cluster.
	KindNotInstalledReason = "KindNotInstalled"
	// InvalidQueryReason: a PromQL fragment of the profile does not parse; the last good PrometheusRule is
	// kept.
	InvalidQueryReason = "InvalidQuery"
	// DuplicateServiceReason: an older profile in the namespace declares the same service; its series and
	// alerts would collide with this one's, so this profile renders nothing.
	DuplicateServiceReason = "DuplicateService"
	// RenderFailedReason: the profile could not be turned into objects.
	RenderFailedReason = "RenderFailed"
	// RetryingReason (Reconciling): a child failed for a reason that passes on its own (a timeout, an API
	// server that is busy or restarting); the operator retries it.
	RetryingReason = "Retrying"
	// RulesMetReason (Compliant=True): every rule that applies passes or is waived.
	RulesMetReason = "RulesMet"
	// RulesFailedReason (Compliant=False): at least one rule fails; the message names them.
	RulesFailedReason = "RulesFailed"
	// RulesUnknownReason (Compliant=Unknown): no rule fails, and the operator cannot judge some.
	RulesUnknownReason = "RulesUnknown"
	// RuleResultChangedReason (Event): the verdict on a rule changed.
	RuleResultChangedReason = "RuleResultChanged"
	// ExceptionExpiredReason (Event): an exception expired, and its rule is judged again.
	ExceptionExpiredReason = "ExceptionExpired"
	// HealthyReason: nothing is degraded.
	HealthyReason = "Healthy"
	// LoadedReason: Prometheus has loaded every rule group of the profile.
	LoadedReason = "Loaded"
	// NotLoadedReason: the PrometheusRule exists but Prometheus has not loaded some of its groups, most often
	// because the Prometheus ruleSelector does not match the rule's labels.
	NotLoadedReason = "NotLoaded"
	// PrometheusUnreachableReason: the operator could not query Prometheus; children are still reconciled.
	PrometheusUnreachableReason = "PrometheusUnreachable"
	// WithinSpotLimitReason: at most the limit's share of the service's pods runs on spot nodes.
	WithinSpotLimitReason = "WithinSpotLimit"
	// SpotLimitExceededReason: more than the limit's share of the service's pods runs on spot nodes.
	SpotLimitExceededReason = "SpotLimitExceeded"
	// InvalidPlacementReason: spec.placement cannot be applied (a profile stored under an older CRD); the
	// webhook admits the service's pods unchanged.
	InvalidPlacementReason = "InvalidPlacement"
	// SpotPlacementAuditedReason (Event, Audit mode): what the webhook would have done to a pod.
	SpotPlacementAuditedReason = "SpotPlacementAudited"
	// InputsPresentReason (SLOInputs): no SLOInputAbsent or SLOThresholdNotABucket alert of the profile is
	// pending or firing.
	InputsPresentReason = "InputsPresent"
	// InputAbsentReason (SLOInputs): a selector of an SLO's indicator matches no series (SLOInputAbsent).
	InputAbsentReason = "InputAbsent"
	// ThresholdNotABucketReason (SLOInputs): a latency SLO's threshold is not a bucket boundary of its
	// classic histogram (SLOThresholdNotABucket).
	ThresholdNotABucketReason = "ThresholdNotABucket"
)

// PlacementStatus is where the service's pods run, observed from Pods and Nodes (P-3).
type PlacementStatus struct {
	// Limit is the largest share of a workload's pods the webhook lets run on spot nodes:
	// spec.placement.maxSpotFraction, or the tier's default (0.5 non-critical, 0 critical).
	Limit string `json:"limit"`
	// SpotNodeLabels are the node labels, as key=value, that mark spot capacity.
	// +optional
	SpotNodeLabels []string `json:"spotNodeLabels,omitempty"`
	// Spot is how many of the service's pods run on spot nodes, and Total how many run on any node
	// (pods not yet bound to a node are not counted).
	Spot  int32 `json:"spot"`
	Total int32 `json:"total"`
	// Fraction is Spot/Total with two decimals, such as "0.30"; "0.00" when no pod runs.
	Fraction string `json:"fraction"`
	// OwnAffinity counts the running pods that set their own node affinity or node selector on a spot
	// label; the webhook leaves them alone.
	// +optional
	OwnAffinity int32 `json:"ownAffinity,omitempty"`
	// Unplaced counts the running pods the webhook made no decision for: created before the profile, while
	// the webhook was unreachable, in a namespace or with a label that opts out, or in Audit mode.
	// +optional
	Unplaced int32 `json:"unplaced,omitempty"`
	// LastAudit (Audit mode) says what the webhook would have done to the last pod it admitted, and when.
	// +optional
	LastAudit string `json:"lastAudit,omitempty"`
	// +optional
	LastAuditTime *metav1.Time `json:"lastAuditTime,omitempty"`
}

// LogsStatus is the log retention of the service (O-5).
type LogsStatus struct {
	// Tier and Retention are what the profile asks for, such as critical and 720h.
	Tier      Tier   `json:"tier"`
	Retention string `json:"retention"`
	// Backend enforcing it, such as "loki (ConfigMap loki/retention)", or empty when none is configured.
	// +optional
	Backend string `json:"backend,omitempty"`
	// Enforced is true when the backend holds the profile's retention.
	Enforced bool `json:"enforced"`
	// Message says why the retention is not enforced.
	// +optional
	Message string `json:"message,omitempty"`
}

// DisasterRecoveryStatus is the recovery plan as the operator applies it.
type DisasterRecoveryStatus struct {
	// RPO and RTO as declared; RPO is 24h when a backup is configured without one.
	// +optional
	RPO string `json:"rpo,omitempty"`
	// +optional
	RTO string `json:"rto,omitempty"`
	// BackupSchedule names the Velero Schedule of the backup and how often it runs (half the RPO).
	// +optional
	BackupSchedule string `json:"backupSchedule,omitempty"`
	// LastRestoreTest is the date of the last restore drill, and RestoreTestDue the date the next is due; the
	// RestoreDrillOverdue alert fires after it.
	// +optional
	LastRestoreTest string `json:"lastRestoreTest,omitempty"`
	// +optional
	RestoreTestDue string `json:"restoreTestDue,omitempty"`
}

// SLOStatus is what Prometheus reports about one SLO, read at the operator's Prometheus interval.
type SLOStatus struct {
	// Name of the SLO.
	Name string `json:"name"`
	// SLI is the share of good events over the SLO window, in percent, such as "99.95%".
	// +optional
	SLI string `json:"sli,omitempty"`
	// ErrorBudgetRemaining is the share of the error budget left over the SLO window, in percent; negative
	// when overspent.
	// +optional
	ErrorBudgetRemaining string `json:"errorBudgetRemaining,omitempty"`
	// BurnRate1h is how fast the budget burned over the last hour: 1 spends it exactly over the SLO window.
	// +optional
	BurnRate1h string `json:"burnRate1h,omitempty"`
	// Groups is the number of groups of an SLO with groupBy that Prometheus reports; SLI, budget and burn rate
	// are then those of the group with the least budget left, named by WorstGroup, such as "route=/checkout".
	// +optional
	Groups *int32 `json:"groups,omitempty"`
	// +optional
	WorstGroup string `json:"worstGroup,omitempty"`
	// Message says what is wrong with the values, such as a grouped SLO with more groups than its maxGroups.
	// +optional
	Message string `json:"message,omitempty"`
	// ObservedAt is when Prometheus was read and these values last changed; the status is not rewritten while
	// they stay the same.
	// +optional
	ObservedAt *metav1.Time `json:"observedAt,omitempty"`
}

// GameDayStatus is the measured impact of one held game day, read from Prometheus once its window has
// ended and kept: Prometheus forgets old samples, the status does not.
type GameDayStatus struct {
	// Name of the game day.
	Name string `json:"name"`
	// Window is the window measured, "<start>/<end>" as RFC 3339 times (an ISO 8601 interval): a change of
	// the game day's window in the spec makes the operator measure it again.
	// +optional
	Window string `json:"window,omitempty"`
	// SLOs is each SLO's share of its error budget spent during the window.
	// +listType=map
	// +listMapKey=name
	// +optional
	SLOs []GameDaySLOImpact `json:"slos,omitempty"`
	// AlertsFired are the alerts of the service that fired during the window, sorted, with the labels that
	// tell them apart in name order, such as "ErrorBudgetBurn{burnrate_tier=page-fast,severity=page,slo=availability}"
	// (GameDayOverdue and RestoreDrillOverdue, about the record rather than the service, are left out).
	// +optional
	AlertsFired []string `json:"alertsFired,omitempty"`
	// TimeToFirstPage is how long after the start the first paging alert fired (severity page, or the SLOs'
	// page severity), such as "4m30s"; empty when none fired.
	// +optional
	TimeToFirstPage string `json:"timeToFirstPage,omitempty"`
	// MeasuredAt is when the impact was read.
	// +optional
	MeasuredAt *metav1.Time `json:"measuredAt,omitempty"`
	// Message says why the impact is not measured, such as "the window has not ended".
	// +optional
	Message string `json:"message,omitempty"`
}

// GameDaySLOImpact is one SLO's error budget spent during a game day.
type GameDaySLOImpact struct {
	// Name of the SLO.
	Name string `json:"name"`
	// ErrorBudgetSpent is the share of the SLO window's error budget the game day spent, in percent, such as
	// "2.40%": the window's burn rate times its share of the SLO window, (Σ slo:sli_errors:rate5m /
	// Σ slo:sli_requests:rate5m over the window) / (1 − objective) × (end − start) / SLO window.
	// +optional
	ErrorBudgetSpent string `json:"errorBudgetSpent,omitempty"`
}

// ReliabilityProfileStatus is what the operator observed and did.
type ReliabilityProfileStatus struct {
	// ObservedGeneration is the generation of the spec the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready, Drifted, Degraded, and Stalled or Reconciling when they apply (kstatus); RulesLoaded
	// and SLOInputs (every SLO's input series exist) with --prometheus-url; SpotWithinLimit (P-3) with
	// --spot-placement.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Resources has one entry per child object.
	// +optional
	Resources []ChildStatus `json:"resources,omitempty"`

	// Logs reports the log retention of the service (O-5) and whether it is enforced.
	// +optional
	Logs *LogsStatus `json:"logs,omitempty"`

	// DisasterRecovery reports the recovery plan as the operator applies it.
	// +optional
	DisasterRecovery *DisasterRecoveryStatus `json:"disasterRecovery,omitempty"`

	// SLOs report each SLO's SLI, error budget and burn rate, read from Prometheus (--prometheus-url).
	// +listType=map
	// +listMapKey=name
	// +optional
	SLOs []SLOStatus `json:"slos,omitempty"`

	// Placement reports the share of the service's pods on spot nodes (P-3), when the operator runs with
	// --spot-placement.
	// +optional
	Placement *PlacementStatus `json:"placement,omitempty"`

	// GameDays report the measured impact of each held game day, with --prometheus-url.
	// +listType=map
	// +listMapKey=name
	// +optional
	GameDays []GameDayStatus `json:"gameDays,omitempty"`

	// Compliance is the verdict on each manifesto rule the operator can judge for the service, with
	// spec.exceptions applied until they expire (F-1).
	// +listType=map
	// +listMapKey=rule
	// +optional
	Compliance []RuleVerdict `json:"compliance,omitempty"`

	// ComplianceSummary is "met/judged": the rules that pass or are waived, of those that apply to the
	// service (NotApplicable ones left out; Unknown ones count as not met), such as "9/11".
	// +optional
	ComplianceSummary string `json:"complianceSummary,omitempty"`
}

// ReliabilityProfile declares the reliability requirements of one service and is turned by the operator into
// ServiceMonitors, PrometheusRules, NetworkPolicies, PodDisruptionBudgets and more.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rprof,categories=reliability
// +kubebuilder:validation:XValidation:rule="!has(self.metadata.name) || size(self.metadata.name) <= 63",message="metadata.name: at most 63 characters: it becomes the value of the reliability.dev/profile label of every child"
// +kubebuilder:printcolumn:name="Service",type=string,JSONPath=`.spec.service`
// +kubebuilder:printcolumn:name="Tier",type=string,JSONPath=`.spec.tier`
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Drifted",type=string,JSONPath=`.status.conditions[?(@.type=="Drifted")].status`
// +kubebuilder:printcolumn:name="Compliant",type=string,JSONPath=`.status.complianceSummary`,description="Manifesto rules met (passed or waived) of those that apply"
// +kubebuilder:printcolumn:name="Budget",type=string,JSONPath=`.status.slos[0].errorBudgetRemaining`,description="Error budget left of the first SLO"
// +kubebuilder:printcolumn:name="Spot",type=string,JSONPath=`.status.placement.fraction`,description="Share of the service's running pods on spot nodes"
// +kubebuilder:printcolumn:name="Spot limit",type=string,JSONPath=`.status.placement.limit`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ReliabilityProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ReliabilityProfileSpec `json:"spec"`
	// Status is what the operator observed and did. Until the operator first writes it, the API server
	// shows observedGeneration 0 (a default), so that kstatus, Flux and Argo CD see a profile the operator
	// has not reconciled yet as in progress rather than, having no status at all, as current.
	// +kubebuilder:default={observedGeneration: 0}
	Status ReliabilityProfileStatus `json:"status,omitempty"`

	// decodeError is why the stored spec or status could not be read, never serialized (see decode.go).
	decodeError DecodeError `json:"-"`
}

// ReliabilityProfileList is a list of ReliabilityProfiles.
//
// +kubebuilder:object:root=true
type ReliabilityProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ReliabilityProfile `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ReliabilityProfile{}, &ReliabilityProfileList{})
}
