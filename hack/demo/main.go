// Command demo runs the operator against a local control plane: it starts kube-apiserver and etcd (built by
// hack/envtest-assets.sh), installs the CRDs, starts the operator in-process, applies config/samples/, waits
// for the profiles to become Ready and prints their children and status, then places a ReplicaSet's pods on
// spot and on-demand nodes through the spot placement webhook. With KEEP=1 it stays up and prints
// a kubeconfig for kubectl; otherwise it tears everything down.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/buildinfo"
	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

const metricsAddress = "127.0.0.1:8067"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	root := testenv.RepoRoot()
	logPath := filepath.Join(root, "bin", "demo-operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	zapOpts := zap.Options{TimeEncoder: zapcore.RFC3339NanoTimeEncoder, DestWriter: logFile}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)).WithValues("service", buildinfo.Service))

	step("Starting kube-apiserver and etcd")
	env, cfg, err := testenv.StartWithWebhooks()
	if err != nil {
		return err
	}
	defer func() { step("Stopping the control plane"); _ = env.Stop() }()

	step("Starting the operator (JSON logs in " + rel(root, logPath) + ", metrics on http://" + metricsAddress + "/metrics)")
	metrics.Registry.MustRegister(buildinfo.Collector())
	wh := env.WebhookInstallOptions
	mgr, err := operator.New(cfg, operator.Options{MetricsAddress: metricsAddress, ProbeAddress: "0", SpotPlacement: true, ValidatingWebhook: true,
		Webhook: webhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir}})
	if err != nil {
		return err
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(ctx) }()
	c := mgr.GetClient()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return errors.New("the operator's cache did not sync")
	}
	for mgr.GetWebhookServer().StartedChecker()(nil) != nil {
		time.Sleep(50 * time.Millisecond)
	}

	step("Applying config/samples/")
	profiles, err := applySamples(ctx, c, filepath.Join(root, "config", "samples"))
	if err != nil {
		return err
	}
	for _, key := range profiles {
		if err := waitReady(ctx, c, key); err != nil {
			return err
		}
		if err := printProfile(ctx, mgr.GetAPIReader(), key); err != nil {
			return err
		}
	}
	// The verdicts of the rules need a reconcile after the children's own events; the table shows them.
	step("kubectl get rprof -A")
	if err := printProfileTable(ctx, cfg, "", "", false); err != nil {
		return err
	}
	for _, key := range profiles {
		if key.Name == "search" {
			if err := demoSpotPlacement(ctx, c, cfg, key); err != nil {
				return err
			}
		}
	}
	printBuildInfo()

	if os.Getenv("KEEP") != "" {
		kubeconfig, err := writeKubeconfig(env, filepath.Join(root, "bin", "demo.kubeconfig"))
		if err != nil {
			return err
		}
		step("The control plane stays up. Try:")
		fmt.Printf("  export KUBECONFIG=%s\n  kubectl get rprof -A\n  kubectl get servicemonitors,pdb,networkpolicies -A -l app.kubernetes.io/managed-by=reliability-operator\n", kubeconfig)
		fmt.Println("Press Ctrl-C to tear it down.")
		<-ctx.Done()
	}
	cancel()
	return <-mgrDone
}

func applySamples(ctx context.Context, c client.Client, dir string) ([]client.ObjectKey, error) {
	// The CLI's loader: every document of every file, kustomization files skipped, numbers as the API
	// server reads them.
	docs, err := cli.Load([]string{dir}, nil)
	if err != nil {
		return nil, err
	}
	var profiles []client.ObjectKey
	for _, d := range docs {
		u := &unstructured.Unstructured{Object: d.Object}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("demo"), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("applying %s %s from %s: %w", u.GetKind(), u.GetName(), d.Source, err)
		}
		fmt.Printf("  applied %s %s/%s\n", u.GetKind(), u.GetNamespace(), u.GetName())
		if u.GetKind() == "ReliabilityProfile" {
			profiles = append(profiles, client.ObjectKeyFromObject(u))
		}
	}
	return profiles, nil
}

func waitReady(ctx context.Context, c client.Client, key client.ObjectKey) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, key, rp); err != nil {
			return err
		}
		cond := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition)
		if cond != nil && cond.Status == metav1.ConditionTrue && rp.Status.ObservedGeneration == rp.Generation {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("profile %s is not Ready after 60s: %+v", key, rp.Status.Conditions)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// printProfile reads past the cache: it lists every child kind as unstructured objects, which through the
// operator's client would start a second informer per kind.
func printProfile(ctx context.Context, c client.Reader, key client.ObjectKey) error {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, key, rp); err != nil {
		return err
	}
	step(fmt.Sprintf("Children of ReliabilityProfile %s", key))
	fmt.Printf("  %-22s %-30s %s\n", "KIND", "NAME", "CREATED")
	for _, proto := range render.ChildTypes() {
		gvk := proto.GetObjectKind().GroupVersionKind()
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(key.Namespace), client.MatchingLabels{render.ProfileLabel: key.Name}); err != nil {
			return err
		}
		for _, item := range list.Items {
			fmt.Printf("  %-22s %-30s %s\n", gvk.Kind, item.GetNamespace()+"/"+item.GetName(), item.GetCreationTimestamp().Format(time.RFC3339))
		}
	}
	step(fmt.Sprintf("Status of ReliabilityProfile %s", key))
	b, err := yaml.Marshal(map[string]any{"status": rp.Status})
	if err != nil {
		return err
	}
	fmt.Print(indent(string(b)))
	return nil
}

func printBuildInfo() {
	resp, err := http.Get("http://" + metricsAddress + "/metrics")
	if err != nil {
		fmt.Println("  (metrics endpoint unreachable:", err, ")")
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	step("The operator's own version metric (O-8), from its /metrics on port 8067")
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "reliability_operator_build_info") {
			fmt.Println("  " + line)
		}
	}
}

func writeKubeconfig(env *envtest.Environment, path string) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", err
	}
	b, err := user.KubeConfig()
	if err != nil {
		return "", err
	}
	return path, os.WriteFile(path, b, 0o600)
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

func rel(root, p string) string {
	if r, err := filepath.Rel(root, p); err == nil {
		return r
	}
	return p
}
