// Command reliability-operator runs the controller that turns ReliabilityProfiles into cluster configuration.
// With the subcommands `render` and `validate` it works offline on profile files instead (see internal/cli).
package main

import (
	_ "embed"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
)

// crdYAML is the generated CRD, so that `validate` applies the admission rules of this very version.
//
//go:embed config/crd/bases/reliability.dev_reliabilityprofiles.yaml
var crdYAML []byte

func main() {
	if cli.IsCommandLine(os.Args[1:]) {
		os.Exit(cli.Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, crdYAML))
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("reliability-operator", flag.ContinueOnError)
	var o operator.Options
	fs.StringVar(&o.MetricsAddress, "metrics-bind-address", ":8067", "Address of the /metrics endpoint (O-7: port 8067).")
	fs.StringVar(&o.ProbeAddress, "health-probe-bind-address", ":8081", "Address of the /healthz and /readyz endpoints.")
	fs.BoolVar(&o.LeaderElection, "leader-elect", true, "Elect a leader, so that only one replica writes.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&o.PrometheusURL, "prometheus-url", "", "Prometheus to read SLO values and loaded rules from, such as http://prometheus-operated.monitoring:9090 (off when empty).")
	fs.DurationVar(&o.PrometheusInterval, "prometheus-interval", 5*time.Minute, "How often Prometheus is read; never per reconcile.")
	fs.StringVar(&o.Render.VeleroNamespace, "velero-namespace", "velero", "Namespace where Velero reads Schedules; backups of profiles become Schedules there (none when empty).")
	fs.DurationVar(&o.Render.SLOWindowInterval, "slo-window-interval", 5*time.Minute, "How often Prometheus evaluates the SLO-window rules (the whole-window ratio and the budget remaining).")
	lokiConfigMap := fs.String("loki-retention-configmap", "", "namespace/name of the ConfigMap holding Loki's runtime overrides, where each profile's log retention is written (O-5); off when empty.")
	fs.StringVar(&o.LokiTenant, "loki-tenant", "fake", "Loki tenant of the retention overrides (\"fake\" for a single-tenant Loki).")
	loggingOutputs := fs.String("logging-cluster-outputs", "", "logging-operator ClusterOutputs per log tier, such as critical=logs-30d,non-critical=logs-7d: each profile gets a Flow to its tier's output (O-5); off when empty.")
	grafanaSelector := fs.String("grafana-instance-selector", "", "Label selector of the grafana-operator Grafana instances that show the SLO dashboards, such as dashboards=grafana (no dashboards when empty).")
	fs.BoolVar(&o.SpotPlacement, "spot-placement", false, "Serve the pod admission webhook that caps each workload's pods on spot nodes (P-3), and report where pods run in status.placement; needs the webhook's certificate (config/spot-placement).")
	fs.BoolVar(&o.ValidatingWebhook, "validating-webhook", true, "Serve the validating admission webhook of ReliabilityProfiles (refusals the CRD cannot express, and warnings); needs the webhook's certificate (config/default with cert-manager, or OLM). --validating-webhook=false to run without one, as `make run` does.")
	fs.IntVar(&o.Webhook.Port, "webhook-port", 9443, "Port of the admission webhook server (with --validating-webhook or --spot-placement).")
	fs.StringVar(&o.Webhook.CertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Folder of the webhook's tls.crt and tls.key: where cert-manager's Secret is mounted, and where OLM mounts the certificate it generates.")
	// Dashboards as ConfigMaps for Grafana's sidecar (kube-prometheus-stack), beside or instead of grafana-operator's.
	dashboardConfigMaps := fs.Bool("dashboard-configmaps", false, "Render each profile's dashboard also as a ConfigMap <profile>-dashboard in the profile's namespace, for the dashboard sidecar of Grafana (kube-prometheus-stack); set the sidecar's searchNamespace to ALL or to the teams' namespaces. Works with or without --grafana-instance-selector. Turned off, the operator deletes the ConfigMaps it made.")
	dashboardConfigMapLabel := fs.String("dashboard-configmap-label", render.DefaultDashboardConfigMapLabel, "key=value of the label the Grafana sidecar loads dashboards from (sidecar.dashboards.label and labelValue; an empty value for a sidecar without labelValue), with --dashboard-configmaps.")
	dashboardConfigMapFolder := fs.String("dashboard-configmap-folder-annotation", "", "The Grafana sidecar's folder annotation (sidecar.dashboards.folderAnnotation, such as grafana_folder, with provider.foldersFromFilesStructure), with --dashboard-configmaps: each dashboard goes to the folder of its profile's namespace or spec.dashboard.folder. None when empty.")
	monitoringLabels := fs.String("monitoring-labels", "", "Labels added to ServiceMonitors so that Prometheus selects them, such as release=kube-prometheus-stack.")
	// JSON, one entry per line (O-4), with RFC 3339 times that log pipelines parse without configuration.
	zapOpts := zap.Options{TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	extra, err := labels.ConvertSelectorToLabelsMap(*monitoringLabels)
	if err != nil {
		return fmt.Errorf("--monitoring-labels: %w", err)
	}
	o.Render.MonitoringLabels = extra
	if *loggingOutputs != "" {
		outputs, err := labels.ConvertSelectorToLabelsMap(*loggingOutputs)
		if err != nil {
			return fmt.Errorf("--logging-cluster-outputs: %w", err)
		}
		o.Render.LoggingClusterOutputs = map[v1alpha1.Tier]string{}
		for tier, output := range outputs {
			if tier != string(v1alpha1.TierCritical) && tier != string(v1alpha1.TierNonCritical) {
				return fmt.Errorf("--logging-cluster-outputs: %q is not a tier (critical, non-critical)", tier)
			}
			o.Render.LoggingClusterOutputs[v1alpha1.Tier(tier)] = output
		}
	}
	if *lokiConfigMap != "" {
		ns, name, ok := strings.Cut(*lokiConfigMap, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--loki-retention-configmap: want namespace/name, not %q", *lokiConfigMap)
		}
		o.LokiRetentionConfigMap = types.NamespacedName{Namespace: ns, Name: name}
	}
	if *grafanaSelector != "" {
		sel, err := metav1.ParseToLabelSelector(*grafanaSelector)
		if err != nil {
			return fmt.Errorf("--grafana-instance-selector: %w", err)
		}
		o.Render.GrafanaInstanceSelector = sel
	}
	if *dashboardConfigMaps {
		dcm, err := render.NewDashboardConfigMapOptions(*dashboardConfigMapLabel, *dashboardConfigMapFolder)
		if err != nil {
			return fmt.Errorf("--dashboard-configmap-label, --dashboard-configmap-folder-annotation: %w", err)
		}
		o.Render.DashboardConfigMaps = dcm
	}

	logger := zap.New(zap.UseFlagOptions(&zapOpts)).WithValues("service", buildinfo.Service) // O-2
	ctrl.SetLogger(logger)
	logger.Info("Starting reliability-operator", "version", buildinfo.Version, "revision", buildinfo.Revision)
	metrics.Registry.MustRegister(buildinfo.Collector())

	mgr, err := operator.New(ctrl.GetConfigOrDie(), o)
	if err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
