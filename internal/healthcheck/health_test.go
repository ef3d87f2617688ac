package healthcheck

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/cel-go/cel"
	lua "github.com/yuin/gopher-lua"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// verdicts is what each tool makes of one profile.
type verdicts struct{ kstatus, argo, flux string }

// TestGitOpsToolsReadTheProfileAsTheOperatorMeansIt runs kstatus, Argo CD's health.lua and Flux's
// healthCheckExprs on profiles in every state the operator reports, all reconciled by the operator on a real
// API server, and logs the table of state → verdicts that README's "Health in Argo CD, Flux and kstatus"
// shows.
func TestGitOpsToolsReadTheProfileAsTheOperatorMeansIt(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	argo := argoHealthScript(t)
	flux := fluxHealthChecks(t)
	judge := func(t *testing.T, u *unstructured.Unstructured) verdicts {
		t.Helper()
		res, err := kstatus.Compute(u)
		if err != nil {
			t.Fatalf("kstatus: %v", err)
		}
		return verdicts{kstatus: res.Status.String(), argo: argo.health(t, u), flux: flux.health(t, u)}
	}
	var table []string
	check := func(t *testing.T, state string, u *unstructured.Unstructured, want verdicts) {
		t.Helper()
		got := judge(t, u)
		table = append(table, fmt.Sprintf("| %s | %s | %s | %s |", state, got.kstatus, got.argo, got.flux))
		if got != want {
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			t.Errorf("%s: got kstatus %s, Argo CD %s, Flux %s; want %s, %s, %s\nconditions: %v", state,
				got.kstatus, got.argo, got.flux, want.kstatus, want.argo, want.flux, conds)
		}
	}
	inProgress := verdicts{"InProgress", "Progressing", "InProgress"}
	current := verdicts{"Current", "Healthy", "Current"}
	failed := verdicts{"Failed", "Degraded", "Failed"}

	for _, ns := range []string{"unseen", "ready", "foreign", "refused", "retrying", "invalid", "audit"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{"health-case": ns}}}); err != nil {
			t.Fatal(err)
		}
	}

	// Before any operator runs: a profile nobody has reconciled.
	createProfile(t, c, "unseen", v1alpha1.ModeEnforce, goodQuery)
	unseen := getProfile(t, c, "unseen")
	if observed, found, _ := unstructured.NestedInt64(unseen.Object, "status", "observedGeneration"); !found || observed != 0 {
		t.Errorf("a profile nobody reconciled reads status.observedGeneration %d (present: %v), want the CRD's default 0", observed, found)
	}
	check(t, "created, not yet reconciled", unseen, inProgress)

	// What the operator will meet: a foreign PDB in a child's place, a policy refusing NetworkPolicies, and
	// a policy engine's webhook that cannot be reached (its calls fail, the API server answers 500).
	foreign := &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "foreign"},
		Spec: policyv1.PodDisruptionBudgetSpec{MaxUnavailable: ptr.To(intstr.FromInt32(1))}}
	if err := c.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	refuseNetworkPolicies(t, c, "refused")
	unreachableWebhookForNetworkPolicies(t, c, "retrying")

	stop := startOperator(t, cfg)
	for _, ns := range []string{"ready", "foreign", "refused", "retrying"} {
		createProfile(t, c, ns, v1alpha1.ModeEnforce, goodQuery)
	}
	createProfile(t, c, "invalid", v1alpha1.ModeEnforce, `http_requests_total{job="web"`)
	createProfile(t, c, "audit", v1alpha1.ModeAudit, goodQuery)

	check(t, "Ready", waitFor(t, c, "ready", conditionIs(v1alpha1.ReadyCondition, "True", v1alpha1.ReconciledReason)), current)
	check(t, "a foreign object in a child's place", waitFor(t, c, "foreign", conditionIs(v1alpha1.StalledCondition, "True", v1alpha1.ForeignObjectReason)), failed)
	check(t, "an apply refused by an admission policy", waitFor(t, c, "refused", conditionIs(v1alpha1.StalledCondition, "True", v1alpha1.ApplyFailedReason)), failed)
	check(t, "a query that does not parse", waitFor(t, c, "invalid", conditionIs(v1alpha1.StalledCondition, "True", v1alpha1.InvalidQueryReason)), failed)
	check(t, "retrying (a webhook that cannot be reached)", waitFor(t, c, "retrying", conditionIs(v1alpha1.ReconcilingCondition, "True", v1alpha1.RetryingReason)), inProgress)
	check(t, "Audit mode, changes reported", waitFor(t, c, "audit", conditionIs(v1alpha1.ReadyCondition, "True", v1alpha1.AuditOnlyReason)), current)
	check(t, "the first profile, once reconciled", waitFor(t, c, "unseen", conditionIs(v1alpha1.ReadyCondition, "True", v1alpha1.ReconciledReason)), current)

	// With the operator stopped, a new generation waits for it.
	stop()
	rp := getProfile(t, c, "ready")
	slos, _, _ := unstructured.NestedSlice(rp.Object, "spec", "slos")
	slos[0].(map[string]any)["objective"] = "99.5"
	if err := unstructured.SetNestedSlice(rp.Object, slos, "spec", "slos"); err != nil {
		t.Fatal(err)
	}
	if err := c.Update(ctx, rp); err != nil {
		t.Fatal(err)
	}
	lagging := getProfile(t, c, "ready")
	if lagging.GetGeneration() != 2 {
		t.Fatalf("generation = %d after a spec change, want 2", lagging.GetGeneration())
	}
	check(t, "a new generation, not yet reconciled", lagging, inProgress)

	t.Logf("state → kstatus, Argo CD, Flux:\n| state | kstatus | Argo CD | Flux |\n|---|---|---|---|\n%s", strings.Join(table, "\n"))
}

const goodQuery = `http_requests_total{job="web",code=~"5.."}`

func createProfile(t *testing.T, c client.Client, ns string, mode v1alpha1.Mode, errorsQuery string) {
	t.Helper()
	manifest := fmt.Sprintf(`
apiVersion: reliability.dev/v1alpha1
kind: ReliabilityProfile
metadata:
  name: web
  namespace: %s
spec:
  service: web
  tier: non-critical
  mode: %s
  selector:
    matchLabels:
      app: web
  slos:
  - name: availability
    objective: "99.9"
    indicator:
      ratio:
        errors: '%s'
        total: 'http_requests_total{job="web"}'
  network: {}
  disruption:
    maxUnavailable: 1
`, ns, mode, errorsQuery)
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(context.Background(), u); err != nil {
		t.Fatalf("creating the profile in %s: %v", ns, err)
	}
}

// getProfile reads the profile as the tools do: the API server's JSON, with integers as int64.
func getProfile(t *testing.T, c client.Client, ns string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(v1alpha1.GroupVersion.String())
	u.SetKind("ReliabilityProfile")
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "web"}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func conditionIs(condType, status, reason string) func(*unstructured.Unstructured) error {
	return func(u *unstructured.Unstructured) error {
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		observed, _, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration")
		for _, raw := range conds {
			cond, _ := raw.(map[string]any)
			if cond["type"] == condType && cond["status"] == status && cond["reason"] == reason && observed == u.GetGeneration() {
				return nil
			}
		}
		return fmt.Errorf("no %s=%s/%s at generation %d; conditions: %v", condType, status, reason, u.GetGeneration(), conds)
	}
}

func waitFor(t *testing.T, c client.Client, ns string, ok func(*unstructured.Unstructured) error) *unstructured.Unstructured {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		u := getProfile(t, c, ns)
		err := ok(u)
		if err == nil {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("profile %s/web: %v", ns, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func startOperator(t *testing.T, cfg *rest.Config) func() {
	t.Helper()
	mgr, err := operator.New(cfg, operator.Options{MetricsAddress: "0", ProbeAddress: "0", SeveralInOneProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	t.Cleanup(stop)
	return stop
}

// refuseNetworkPolicies installs a ValidatingAdmissionPolicy that refuses every NetworkPolicy in the
// namespace, as a platform's policy might, and waits until the API server enforces it.
func refuseNetworkPolicies(t *testing.T, c client.Client, ns string) {
	t.Helper()
	ctx := context.Background()
	rules := []admissionregistrationv1.NamedRuleWithOperations{{RuleWithOperations: admissionregistrationv1.RuleWithOperations{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"v1"},
			Resources: []string{"networkpolicies"}},
	}}}
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "no-network-policies"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy:    ptr.To(admissionregistrationv1.Fail),
			MatchConstraints: &admissionregistrationv1.MatchResources{ResourceRules: rules},
			Validations:      []admissionregistrationv1.Validation{{Expression: "false", Message: "NetworkPolicies are managed by the platform team here"}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "no-network-policies"},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        policy.Name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
			MatchResources: &admissionregistrationv1.MatchResources{
				NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"health-case": ns}}},
		},
	}
	for _, o := range []client.Object{policy, binding} {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	waitUntilNetworkPolicyCreate(t, c, ns, func(err error) bool { return apierrors.IsInvalid(err) || apierrors.IsForbidden(err) })
}

// unreachableWebhookForNetworkPolicies installs a validating webhook, failurePolicy Fail, whose server does
// not answer, as when a policy engine is down: the API server answers 500 to every NetworkPolicy write.
func unreachableWebhookForNetworkPolicies(t *testing.T, c client.Client, ns string) {
	t.Helper()
	hook := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "policy-engine-down"},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "networkpolicies.policy-engine.example.com",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://127.0.0.1:1/validate")},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.OperationAll}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"v1"}, Resources: []string{"networkpolicies"}}}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Fail),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          ptr.To[int32](1),
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"health-case": ns}},
		}},
	}
	if err := c.Create(context.Background(), hook); err != nil {
		t.Fatal(err)
	}
	waitUntilNetworkPolicyCreate(t, c, ns, apierrors.IsInternalError)
}

// waitUntilNetworkPolicyCreate dry-runs a NetworkPolicy create in the namespace until the error is the one
// expected: admission configuration takes effect a moment after it is written.
func waitUntilNetworkPolicyCreate(t *testing.T, c client.Client, ns string, expected func(error) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns}}
		err := c.Create(context.Background(), np, client.DryRunAll)
		if err != nil && expected(err) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a NetworkPolicy create in %s answered %v", ns, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// argoScript is config/argocd/health.lua, checked to be what argocd-cm-patch.yaml ships.
type argoScript string

func argoHealthScript(t *testing.T) argoScript {
	t.Helper()
	dir := filepath.Join(testenv.RepoRoot(), "config", "argocd")
	script, err := os.ReadFile(filepath.Join(dir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	patchYAML, err := os.ReadFile(filepath.Join(dir, "argocd-cm-patch.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var patch corev1.ConfigMap
	if err := yaml.Unmarshal(patchYAML, &patch); err != nil {
		t.Fatal(err)
	}
	const key = "resource.customizations.health.reliability.dev_ReliabilityProfile"
	if patch.Name != "argocd-cm" || patch.Data[key] != string(script) {
		t.Fatalf("config/argocd/argocd-cm-patch.yaml must be ConfigMap argocd-cm with %s equal to health.lua; rewrite it from health.lua", key)
	}
	return argoScript(script)
}

// health runs the script as Argo CD does: obj is the live object converted to Lua tables, and the script
// returns a table with status and message.
func (s argoScript) health(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, u.Object))
	if err := L.DoString(string(s)); err != nil {
		t.Fatalf("health.lua: %v", err)
	}
	ret, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("health.lua returned %v, want a table", L.Get(-1))
	}
	status := ret.RawGetString("status").String()
	if msg := ret.RawGetString("message"); msg.Type() != lua.LTString || msg.String() == "" {
		t.Errorf("health.lua gave %s without a message", status)
	}
	return status
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		tbl := L.NewTable()
		for k, e := range v {
			tbl.RawSetString(k, toLua(L, e))
		}
		return tbl
	case []any:
		tbl := L.NewTable()
		for _, e := range v {
			tbl.Append(toLua(L, e))
		}
		return tbl
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case nil:
		return lua.LNil
	}
	panic(fmt.Sprintf("no Lua value for %T", v))
}

// fluxChecks are the healthCheckExprs of config/flux/flux-kustomization.yaml for profiles, compiled.
type fluxChecks struct{ inProgress, failed, current cel.Program }

func fluxHealthChecks(t *testing.T) fluxChecks {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "flux", "flux-kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Spec struct {
			HealthCheckExprs []struct{ APIVersion, Kind, InProgress, Failed, Current string } `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	// Flux's environment: the object's top-level fields as variables, optional field access.
	env, err := cel.NewEnv(cel.OptionalTypes(), cel.CrossTypeNumericComparisons(true),
		cel.Variable("metadata", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("spec", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("status", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		t.Fatal(err)
	}
	compile := func(expr string) cel.Program {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", expr, iss.Err())
		}
		if ast.OutputType() != cel.BoolType {
			t.Fatalf("%s: gives %v, want bool", expr, ast.OutputType())
		}
		p, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, e := range k.Spec.HealthCheckExprs {
		if e.APIVersion == v1alpha1.GroupVersion.String() && e.Kind == "ReliabilityProfile" {
			return fluxChecks{compile(e.InProgress), compile(e.Failed), compile(e.Current)}
		}
	}
	t.Fatal("config/flux/flux-kustomization.yaml has no healthCheckExprs entry for ReliabilityProfile")
	return fluxChecks{}
}

// health evaluates as Flux's kustomize-controller does: a lagging observedGeneration is in progress, then
// inProgress, failed and current in that order, the first true one wins, and none true is in progress.
func (f fluxChecks) health(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	if observed, found, _ := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); found && observed != u.GetGeneration() {
		return "InProgress"
	}
	vars := map[string]any{}
	for _, name := range []string{"metadata", "spec", "status"} {
		if m, ok := u.Object[name].(map[string]any); ok {
			vars[name] = m
		}
	}
	for _, step := range []struct {
		program cel.Program
		status  string
	}{{f.inProgress, "InProgress"}, {f.failed, "Failed"}, {f.current, "Current"}} {
		out, _, err := step.program.Eval(vars)
		if err != nil {
			t.Fatalf("Flux healthCheckExprs: %v", err)
		}
		if out.Value() == true {
			return step.status
		}
	}
	return "InProgress"
}
