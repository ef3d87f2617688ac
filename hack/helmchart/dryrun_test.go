package helmchart

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// server is one kube-apiserver for the tests of this package that need one, started by the first of them.
// It has the CRDs of every upstream project the chart or the operator writes to (cert-manager's Issuer and
// Certificate among them) but not the operator's own: the chart installs that one, and Helm installs no
// object it does not own.
var server struct {
	once sync.Once
	env  *envtest.Environment
	cfg  *rest.Config
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if server.env != nil {
		_ = server.env.Stop()
	}
	os.Exit(code)
}

func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	server.once.Do(func() {
		dirs, err := testenv.CRDDirs()
		if err != nil {
			server.err = err
			return
		}
		dirs = slices.DeleteFunc(dirs, func(d string) bool { return d == testenv.OwnCRDDir() })
		server.env, server.cfg, server.err = testenv.StartWithCRDs(append(dirs, testenv.CertManagerCRDDir(t))...)
	})
	if server.err != nil {
		t.Fatal(server.err)
	}
	return server.cfg
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createNamespaces(t *testing.T, c client.Client, names ...string) {
	t.Helper()
	for _, ns := range names {
		err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// A real kube-apiserver accepts every object the chart templates, with the default values, with spot
// placement, without any webhook, and with every flag and optional object (the Loki Role, the
// ServiceMonitor): a server-side apply with dryRun=All and strict field validation, the request of
// `kubectl apply --server-side --dry-run=server`. The API server checks each object against its schema (the
// CRDs' too: cert-manager's Issuer and Certificate, prometheus-operator's ServiceMonitor), compiles the
// webhook's match condition and refuses unknown fields. Only the namespaces are created for real, since a
// dry run does not make them exist for the objects in them.
func TestTemplatesApplyToAPIServer(t *testing.T) {
	cfg := apiServer(t)
	c := newClient(t, cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The release namespace, Loki's and the leader election Lease's of every-flag-values.yaml.
	createNamespaces(t, c, namespace, "loki", "leases")

	for _, tc := range []struct {
		name        string
		valuesFiles []string
		set         []string
		minObjects  int
	}{
		{name: "default values", minObjects: 18},
		{name: "values-spot-placement.yaml", valuesFiles: []string{spotPlacementFile}, minObjects: 19},
		{name: "no webhook", set: []string{"validatingWebhook.enabled=false"}, minObjects: 12},
		{name: "every flag, the Loki Role and the ServiceMonitor", valuesFiles: []string{everyFlagFile}, minObjects: 21},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := helmTemplate(t, tc.valuesFiles, tc.set...)
			if len(objs) < tc.minObjects {
				t.Fatalf("the chart rendered %d objects, want at least %d", len(objs), tc.minObjects)
			}
			for _, u := range objs {
				gvk := u.GroupVersionKind()
				mapping, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version)
				if err != nil {
					t.Errorf("%s: the API server does not serve it: %v", key(u), err)
					continue
				}
				body, err := json.Marshal(u.Object)
				if err != nil {
					t.Fatal(err)
				}
				force := true
				_, err = dyn.Resource(mapping.Resource).Namespace(u.GetNamespace()).Patch(context.Background(), u.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "helm", Force: &force, FieldValidation: "Strict"})
				if err != nil {
					t.Errorf("%s: refused: %v", key(u), err)
				}
			}
		})
	}
}

// helmCommand runs helm against the test's API server, with Helm's own folders in a temporary directory.
type helmCommand struct {
	t          *testing.T
	kubeconfig string
	home       string
}

func newHelmCommand(t *testing.T, cfg *rest.Config) helmCommand {
	t.Helper()
	user, err := server.env.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return helmCommand{t: t, kubeconfig: path, home: dir}
}

func (h helmCommand) run(args ...string) (string, error) {
	h.t.Helper()
	cmd := exec.Command(testenv.Helm(h.t), append(args, "--kubeconfig", h.kubeconfig)...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(h.home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h.home, "config"),
		"HELM_DATA_HOME="+filepath.Join(h.home, "data"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (h helmCommand) mustRun(args ...string) string {
	h.t.Helper()
	out, err := h.run(args...)
	if err != nil {
		h.t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// copyChart copies the chart into a temporary folder, so that a test can make a "next version" of it.
func copyChart(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "reliability-operator")
	err := filepath.WalkDir(chartDir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(chartDir, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// ownCRDs are the operator's CRDs, which the chart installs and keeps; the profiles' first.
var ownCRDs = []string{"reliabilityprofiles.reliability.dev", "reliabilitypolicies.reliability.dev"}

// A release's life with the real helm against a real API server: install (the chart owns both CRDs, and NOTES
// warns about a namespace without the restricted Pod Security label), upgrade to spot placement, an upgrade
// that the schema refuses by field while the release stays as it was, an upgrade of the chart whose profile
// CRD changed (Helm applies it: the reason the CRDs are templates and not in crds/), and uninstall, which
// leaves both CRDs behind.
func TestHelmInstallUpgradeUninstall(t *testing.T) {
	cfg := apiServer(t)
	c := newClient(t, cfg)
	h := newHelmCommand(t, cfg)
	const ns = "helm-release"
	createNamespaces(t, c, ns)
	ctx := context.Background()
	name := func(suffix string) types.NamespacedName {
		return types.NamespacedName{Namespace: ns, Name: release + "-" + suffix}
	}

	out := h.mustRun("install", release, chartDir, "--namespace", ns)
	if !strings.Contains(out, "does not enforce the restricted Pod Security Standard") {
		t.Errorf("helm install printed no warning about the namespace's Pod Security label:\n%s", out)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	for _, n := range ownCRDs {
		if err := c.Get(ctx, types.NamespacedName{Name: n}, &crd); err != nil {
			t.Fatalf("the release has no CRD %s: %v", n, err)
		}
		if crd.Annotations["meta.helm.sh/release-name"] != release || crd.Annotations["helm.sh/resource-policy"] != "keep" {
			t.Errorf("the CRD %s's annotations are %v: want it owned by the release and kept", n, crd.Annotations)
		}
	}
	var deployment appsv1.Deployment
	if err := c.Get(ctx, name("controller-manager"), &deployment); err != nil {
		t.Fatal(err)
	}
	if *deployment.Spec.Replicas != 2 {
		t.Errorf("installed with %d replicas, want 2", *deployment.Spec.Replicas)
	}
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: release + "-profile-validation"}, &validating); err != nil {
		t.Errorf("no validating webhook configuration: %v", err)
	}
	if got := validating.Annotations["cert-manager.io/inject-ca-from"]; got != ns+"/"+release+"-serving-cert" {
		t.Errorf("the validating webhook takes its CA from %q", got)
	}

	h.mustRun("upgrade", release, chartDir, "--namespace", ns, "--values", spotPlacementFile)
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	if err := c.Get(ctx, types.NamespacedName{Name: release + "-spot-placement"}, &mutating); err != nil {
		t.Errorf("no spot placement webhook after the upgrade: %v", err)
	}
	if err := c.Get(ctx, name("controller-manager"), &deployment); err != nil {
		t.Fatal(err)
	}
	if args := deployment.Spec.Template.Spec.Containers[0].Args; *deployment.Spec.Replicas != 1 || !slices.Contains(args, "--spot-placement") {
		t.Errorf("after the upgrade to spot placement: %d replicas, args %v", *deployment.Spec.Replicas, args)
	}

	out, err := h.run("upgrade", release, chartDir, "--namespace", ns, "--values", spotPlacementFile, "--set", "replicaCount=2")
	if err == nil || !strings.Contains(out, "replicaCount") {
		t.Errorf("an upgrade to spot placement with 2 replicas: want a refusal naming replicaCount, got %v\n%s", err, out)
	}
	if err := c.Get(ctx, name("controller-manager"), &deployment); err != nil {
		t.Fatal(err)
	}
	if *deployment.Spec.Replicas != 1 {
		t.Errorf("the refused upgrade changed the Deployment to %d replicas", *deployment.Spec.Replicas)
	}

	next := copyChart(t)
	crdFile := filepath.Join(next, "files", "reliability.dev_reliabilityprofiles.yaml")
	b, err := os.ReadFile(crdFile)
	if err != nil {
		t.Fatal(err)
	}
	const generator = "controller-gen.kubebuilder.io/version: "
	changed := strings.Replace(string(b), generator, generator+"next-", 1)
	if changed == string(b) {
		t.Fatalf("%s has no %s annotation to change", crdFile, generator)
	}
	if err := os.WriteFile(crdFile, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	h.mustRun("upgrade", release, next, "--namespace", ns, "--values", spotPlacementFile)
	if err := c.Get(ctx, types.NamespacedName{Name: ownCRDs[0]}, &crd); err != nil {
		t.Fatal(err)
	}
	if v := crd.Annotations["controller-gen.kubebuilder.io/version"]; !strings.HasPrefix(v, "next-") {
		t.Errorf("helm upgrade left the CRD as it was (%s): its new version was not applied", v)
	}

	h.mustRun("uninstall", release, "--namespace", ns)
	for _, gone := range []struct {
		obj client.Object
		key types.NamespacedName
	}{
		{&appsv1.Deployment{}, name("controller-manager")},
		{&admissionregistrationv1.ValidatingWebhookConfiguration{}, types.NamespacedName{Name: release + "-profile-validation"}},
		{&admissionregistrationv1.MutatingWebhookConfiguration{}, types.NamespacedName{Name: release + "-spot-placement"}},
	} {
		if err := c.Get(ctx, gone.key, gone.obj); !apierrors.IsNotFound(err) {
			t.Errorf("%T %s after helm uninstall: want not found, got %v", gone.obj, gone.key, err)
		}
	}
	for _, n := range ownCRDs {
		switch err := c.Get(ctx, types.NamespacedName{Name: n}, &crd); {
		case err != nil:
			t.Errorf("the CRD %s after helm uninstall: %v", n, err)
		case crd.DeletionTimestamp != nil:
			t.Errorf("helm uninstall deletes the CRD %s, and with it every object of its kind", n)
		}
	}
}
