// Command reliability-operator runs the controller that turns ReliabilityProfiles into cluster configuration.
// With the subcommands `render` and `validate` it works offline on profile files instead (see internal/cli).
package main

import (
	"bytes"
	_ "embed"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/options"
)

// The generated CRDs, so that `validate` applies the admission rules of this very version, to profiles and
// to the --policy file.
var (
	//go:embed config/crd/bases/reliability.dev_reliabilityprofiles.yaml
	profileCRD []byte
	//go:embed config/crd/bases/reliability.dev_reliabilitypolicies.yaml
	policyCRD []byte
	crdYAML   = bytes.Join([][]byte{profileCRD, policyCRD}, []byte("\n---\n"))
)

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
	fs.StringVar(&o.PprofAddress, "pprof-bind-address", "", "Address of Go's /debug/pprof endpoints, to profile the operator's memory and CPU (off when empty; keep it on loopback).")
	fs.BoolVar(&o.LeaderElection, "leader-elect", true, "Elect a leader, so that only one replica writes.")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	fs.StringVar(&o.PrometheusURL, "prometheus-url", "", "Prometheus to read SLO values and loaded rules from, such as http://prometheus-operated.monitoring:9090 (off when empty).")
	fs.DurationVar(&o.PrometheusInterval, "prometheus-interval", 5*time.Minute, "How often Prometheus is read; never per reconcile.")
	lokiConfigMap := fs.String("loki-retention-configmap", "", "namespace/name of the ConfigMap holding Loki's runtime overrides, where each profile's log retention is written (O-5); off when empty.")
	fs.StringVar(&o.LokiTenant, "loki-tenant", "fake", "Loki tenant of the retention overrides (\"fake\" for a single-tenant Loki).")
	fs.BoolVar(&o.SpotPlacement, "spot-placement", false, "Serve the pod admission webhook that caps each workload's pods on spot nodes (P-3), and report where pods run in status.placement; needs the webhook's certificate (config/spot-placement).")
	fs.BoolVar(&o.ValidatingWebhook, "validating-webhook", true, "Serve the validating admission webhook of ReliabilityProfiles (refusals the CRD cannot express, and warnings); needs the webhook's certificate (config/default with cert-manager, or OLM). --validating-webhook=false to run without one, as `make run` does.")
	fs.IntVar(&o.Webhook.Port, "webhook-port", 9443, "Port of the admission webhook server (with --validating-webhook or --spot-placement).")
	fs.StringVar(&o.Webhook.CertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "Folder of the webhook's tls.crt and tls.key: where cert-manager's Secret is mounted, and where OLM mounts the certificate it generates.")
	// 4 is operator.DefaultMaxConcurrentReconciles, written out because hack/helmchart reads the defaults as literals.
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", 4, "How many ReliabilityProfiles are reconciled at once. A reconcile mostly waits on the API server, so a few workers keep one slow profile from holding up the rest; one profile is never reconciled twice at once.")
	// One bucket for the whole process (see operator.withRateLimit). Above what one operator sent at most in
	// the scale benchmark (about 100 requests per second), so that a start or a policy change at thousands
	// of profiles is not held back client-side; still bounded, so that one operator cannot flood the API
	// server, whose API Priority and Fairness is the real protection.
	qps := fs.Float64("kube-api-qps", 200, "Requests per second the operator sends to the API server, on average, all kinds together (client-side rate limit).")
	fs.IntVar(&o.KubeAPIBurst, "kube-api-burst", 400, "Requests the operator may send at once above --kube-api-qps.")
	fs.IntVar(&o.Sharding.Shards, "shards", 1, "How many shards the namespaces are split into, each reconciled by the replica holding its Lease (README, Sharding); 1 is one leader for all (--leader-elect).")
	fs.IntVar(&o.Sharding.Preferred, "shard-preferred", -1, "The shard this replica campaigns for at once, with --shards above 1; -1 derives it from the pod name's StatefulSet ordinal (or a hash of the name).")
	// Every flag that shapes children, shared with `render` and `validate` so that they print what is applied.
	options.BindRender(fs, &o.Render)
	// JSON, one entry per line (O-4), with RFC 3339 times that log pipelines parse without configuration.
	zapOpts := zap.Options{TimeEncoder: zapcore.RFC3339NanoTimeEncoder}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.MaxConcurrentReconciles < 1:
		return fmt.Errorf("--max-concurrent-reconciles: want at least 1, not %d", o.MaxConcurrentReconciles)
	case !(*qps > 0) || *qps > math.MaxFloat32:
		return fmt.Errorf("--kube-api-qps: want a finite number above 0, not %v", *qps)
	case o.KubeAPIBurst < 1:
		return fmt.Errorf("--kube-api-burst: want at least 1, not %d", o.KubeAPIBurst)
	case o.Sharding.Shards < 1:
		return fmt.Errorf("--shards: want at least 1, not %d", o.Sharding.Shards)
	case o.Sharding.Preferred < -1 || o.Sharding.Preferred >= o.Sharding.Shards:
		return fmt.Errorf("--shard-preferred: want -1 or a shard of 0..%d, not %d", o.Sharding.Shards-1, o.Sharding.Preferred)
	}
	o.KubeAPIQPS = float32(*qps)
	if *lokiConfigMap != "" {
		ns, name, ok := strings.Cut(*lokiConfigMap, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--loki-retention-configmap: want namespace/name, not %q", *lokiConfigMap)
		}
		o.LokiRetentionConfigMap = types.NamespacedName{Namespace: ns, Name: name}
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
