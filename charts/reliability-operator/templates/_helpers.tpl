{{/*
The prefix of every name: config/base's namePrefix without its dash when the release is called
reliability-operator. At most 32 characters, so that the longest name made from it,
<fullname>-controller-manager-metrics, fits a Service's 63.
*/}}
{{- define "reliability-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 32 | trimSuffix "-" -}}
{{- else if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 32 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object: config/base's, plus Helm's own. */}}
{{- define "reliability-operator.labels" -}}
app.kubernetes.io/name: reliability-operator
app.kubernetes.io/part-of: reliability-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The operator's pods, selected by the Services, the NetworkPolicies and the spread constraint. */}}
{{- define "reliability-operator.selectorLabels" -}}
app.kubernetes.io/name: reliability-operator
app.kubernetes.io/component: controller-manager
{{- end -}}

{{- define "reliability-operator.serviceAccountName" -}}
{{- printf "%s-controller-manager" (include "reliability-operator.fullname" .) -}}
{{- end -}}

{{/* Whether the operator serves a webhook, and so needs the webhook Service and a certificate. */}}
{{- define "reliability-operator.servesWebhooks" -}}
{{- if or .Values.validatingWebhook.enabled .Values.spotPlacement.enabled }}true{{ end -}}
{{- end -}}

{{/* The cert-manager Certificate whose CA cainjector writes into the webhook configurations. */}}
{{- define "reliability-operator.servingCertificate" -}}
{{- printf "%s-serving-cert" (include "reliability-operator.fullname" .) -}}
{{- end -}}

{{/* A map as the operator's key=value,... flags read it, sorted by key. */}}
{{- define "reliability-operator.pairs" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/*
The flag table: each row is a flag of main.go, its value from values.yaml, and the operator's own default.
A flag is passed only when its value differs from that default, so that the Deployment's arguments stay
those of config/manager; the flags in "always" are passed anyway, as config/manager passes them. A true
boolean is passed as --flag, a false one as --flag=false. Adding a flag: one row here, in main.go's order.
*/}}
{{- define "reliability-operator.flags" -}}
{{- $v := .Values -}}
{{- $rows := list
  (list "leader-elect" $v.leaderElection.enabled true)
  (list "metrics-bind-address" (printf ":%v" $v.metrics.port) ":8067")
  (list "health-probe-bind-address" (printf ":%v" $v.healthProbe.port) ":8081")
  (list "pprof-bind-address" $v.pprof.bindAddress "")
  (list "leader-election-namespace" $v.leaderElection.namespace "")
  (list "prometheus-url" $v.prometheus.url "")
  (list "prometheus-interval" $v.prometheus.interval "5m")
  (list "velero-namespace" $v.velero.namespace "velero")
  (list "slo-window-interval" $v.slo.windowInterval "2m")
  (list "loki-retention-configmap" $v.loki.retentionConfigMap "")
  (list "loki-tenant" $v.loki.tenant "fake")
  (list "logging-cluster-outputs" (include "reliability-operator.pairs" $v.logging.clusterOutputs) "")
  (list "grafana-instance-selector" $v.grafana.instanceSelector "")
  (list "dashboard-configmaps" $v.grafana.dashboardConfigMaps.enabled false)
  (list "dashboard-configmap-label" $v.grafana.dashboardConfigMaps.label "grafana_dashboard=1")
  (list "dashboard-configmap-folder-annotation" $v.grafana.dashboardConfigMaps.folderAnnotation "")
  (list "spot-placement" $v.spotPlacement.enabled false)
  (list "validating-webhook" $v.validatingWebhook.enabled true)
  (list "webhook-port" $v.webhook.port 9443)
  (list "webhook-cert-dir" $v.webhook.certDir "/tmp/k8s-webhook-server/serving-certs")
  (list "max-concurrent-reconciles" $v.reconciles.maxConcurrent 4)
  (list "kube-api-qps" $v.kubeAPI.qps 200)
  (list "kube-api-burst" $v.kubeAPI.burst 400)
  (list "shards" $v.sharding.shards 1)
  (list "shard-preferred" $v.sharding.preferred -1)
  (list "monitoring-labels" (include "reliability-operator.pairs" $v.monitoringLabels) "")
  (list "alert-labels" (include "reliability-operator.pairs" $v.alertLabels) "")
  (list "zap-log-level" $v.logLevel "info")
-}}
{{- $always := list "leader-elect" "metrics-bind-address" "health-probe-bind-address" -}}
{{- range $row := $rows }}
{{- $name := index $row 0 }}
{{- $value := index $row 1 }}
{{- if or (has $name $always) (ne (toString $value) (toString (index $row 2))) }}
{{- if kindIs "bool" $value }}
- {{ printf "--%s%s" $name (ternary "" "=false" $value) | toJson }}
{{- else }}
- {{ printf "--%s=%v" $name $value | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- range .Values.extraArgs }}
- {{ toJson . }}
{{- end }}
{{- end -}}
