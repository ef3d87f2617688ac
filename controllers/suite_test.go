package controllers_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

var (
	// k8s is the tests' own client. Its requests are not counted as the operator's.
	k8s client.Client
	// adminConfig is the control plane's admin config, for tests that run a command line against it.
	adminConfig *rest.Config
	// operatorWrites counts the write requests the running operator sent, per namespace.
	operatorWrites = &writeCounter{byNamespace: map[string]int{}}
)

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	env, cfg, err := testenv.StartWithWebhooks()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	adminConfig = cfg

	scheme, err := operator.NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	// The operator runs as its service account, bound to nothing but the generated ClusterRole, so every
	// test here also proves that config/rbac grants enough and the operator needs no more.
	for _, ns := range []string{"velero", "loki"} {
		if err := k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	if err := bindOperatorRole(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	opCfg := rest.CopyConfig(cfg)
	opCfg.Impersonate = rest.ImpersonationConfig{UserName: operatorUser}
	opCfg.Wrap(operatorWrites.wrap)
	mgr, err := operator.New(opCfg, operator.Options{
		MetricsAddress: "0", ProbeAddress: "0",
		Render: render.Options{MonitoringLabels: map[string]string{"release": "test"},
			GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}},
			VeleroNamespace:         "velero"},
		LokiRetentionConfigMap: types.NamespacedName{Namespace: "loki", Name: "reliability-retention"}, LokiTenant: "fake",
		SpotPlacement: true,
		// Every profile a test creates goes through the shipped validating webhook, as in a cluster.
		ValidatingWebhook: true,
		Webhook: webhook.Options{Host: env.WebhookInstallOptions.LocalServingHost, Port: env.WebhookInstallOptions.LocalServingPort,
			CertDir: env.WebhookInstallOptions.LocalServingCertDir},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	// Tests start once the operator watches everything, and a run of the pure tests alone stops a manager
	// that has fully started.
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		fmt.Fprintln(os.Stderr, "the operator's cache did not sync")
		return 1
	}
	// The API server calls the webhook from the first pod on; wait until it serves.
	for mgr.GetWebhookServer().StartedChecker()(nil) != nil {
		time.Sleep(50 * time.Millisecond)
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
		return 1
	}
	return code
}

// operatorUser is the service account config/default deploys the operator as.
const operatorUser = "system:serviceaccount:reliability-operator-system:reliability-operator-controller-manager"

func bindOperatorRole() error {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		return err
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(b, role); err != nil {
		return err
	}
	if err := k8s.Create(context.Background(), role); err != nil {
		return err
	}
	if err := k8s.Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}},
	}); err != nil {
		return err
	}
	// The log retention Role of config/loki, in Loki's namespace.
	b, err = os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "loki", "role.yaml"))
	if err != nil {
		return err
	}
	lokiRole := &rbacv1.Role{}
	if err := yaml.Unmarshal(b, lokiRole); err != nil {
		return err
	}
	lokiRole.Namespace = "loki"
	if err := k8s.Create(context.Background(), lokiRole); err != nil {
		return err
	}
	return k8s.Create(context.Background(), &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operator", Namespace: "loki"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: lokiRole.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}},
	})
}

func zapLevel() zapLevelValue {
	if os.Getenv("TEST_VERBOSE") != "" {
		return -1
	}
	return 2 // errors only: a passing run stays quiet
}

type zapLevelValue = zapcore.Level

// writeCounter is a transport wrapper that counts every request that is not a read.
type writeCounter struct {
	mu          sync.Mutex
	byNamespace map[string]int
}

var namespaceInPath = regexp.MustCompile(`/namespaces/([^/]+)/`)

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet {
			ns := ""
			if m := namespaceInPath.FindStringSubmatch(req.URL.Path); m != nil {
				ns = m[1]
			}
			w.mu.Lock()
			w.byNamespace[ns]++
			w.mu.Unlock()
		}
		return rt.RoundTrip(req)
	})
}

func (w *writeCounter) count(namespace string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.byNamespace[namespace]
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// newNamespace creates a namespace for one test, so tests do not see each other's objects.
func newNamespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rprof-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// eventually retries check until it returns nil, and fails the test with its last error after timeout.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = check(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after 30s: %v", what, err)
}

// consistently fails the test if check returns an error at any time during d.
func consistently(t *testing.T, what string, d time.Duration, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pastProfileValidation runs write while the ReliabilityProfile validating webhook is not installed, as in
// a cluster where a profile was stored before the webhook was, and installs it again: the controller's own
// checks are then the last line, and tests show that they hold.
func pastProfileValidation(t *testing.T, write func() error) {
	t.Helper()
	ctx := context.Background()
	list := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := k8s.List(ctx, list); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		if err := k8s.Delete(ctx, &list.Items[i]); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range list.Items {
			c.ResourceVersion, c.UID, c.CreationTimestamp, c.ManagedFields, c.Generation = "", "", metav1.Time{}, nil, 0
			if err := k8s.Create(ctx, &c); err != nil {
				t.Fatalf("installing the validating webhook again: %v", err)
			}
		}
	}()
	// The API server drops its webhooks a moment after the configuration goes.
	eventually(t, "written past the validating webhook", write)
}
