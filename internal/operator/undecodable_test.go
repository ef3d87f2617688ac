package operator_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// undecodableNamespace holds the profiles of TestAProfileStoredUnderALooserCRD...: the metric it reads is
// process-wide, and no other test uses this namespace.
const undecodableNamespace = "undecodable"

// TestAProfileStoredUnderALooserCRDIsReportedAndTheOthersKeepReconciling stores what an older, looser CRD
// accepted and the Go types cannot hold (maxUnavailable 99999999999, minAvailable 4294967297), then runs the
// operator under the current CRD, which refuses those values. Before, the cache could not decode the list:
// no profile got a status, /readyz said 200, and the operator exited after two minutes.
func TestAProfileStoredUnderALooserCRDIsReportedAndTheOthersKeepReconciling(t *testing.T) {
	current, looser := profileCRDs(t)
	b, err := yaml.Marshal(looser)
	if err != nil {
		t.Fatal(err)
	}
	cfg := startWithProfileCRD(t, b)
	ctx := context.Background()
	admin, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"loki", undecodableNamespace} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []*unstructured.Unstructured{
		storedProfile("bad-max", map[string]any{"maxUnavailable": int64(99999999999)}),
		storedProfile("bad-min", map[string]any{"minAvailable": int64(4294967297)}),
		storedProfile("checkout", map[string]any{"maxUnavailable": int64(1)}),
	} {
		if err := admin.Create(ctx, u); err != nil {
			t.Fatalf("the looser CRD refused %s: %v", u.GetName(), err)
		}
	}
	installCRD(t, admin, current)

	probes := testenv.FreeAddress(t)
	_, c := startOperator(t, cfg, operator.Options{ProbeAddress: probes,
		LokiRetentionConfigMap: types.NamespacedName{Namespace: "loki", Name: "retention"}, LokiTenant: "fake"})

	waitFor(t, "every readable profile Ready, and each unreadable one reported", func() error {
		if err := ready(ctx, c, "checkout"); err != nil {
			return err
		}
		for name, field := range map[string]string{"bad-max": "spec.disruption.maxUnavailable", "bad-min": "spec.disruption.minAvailable"} {
			if err := reportedUndecodable(ctx, c, name, field); err != nil {
				return err
			}
		}
		return nil
	})
	waitFor(t, "the replica Ready, its profile cache synced", func() error {
		for _, path := range []string{"/readyz", "/readyz/profiles"} {
			if err := probeOK(probes, path); err != nil {
				return err
			}
		}
		return nil
	})

	// A profile that was reconciled, then changed under the looser CRD, keeps its children and its log
	// retention; a bad profile created while the operator runs does not stop the others.
	payments := storedProfile("payments", map[string]any{"maxUnavailable": int64(2)})
	if err := admin.Create(ctx, payments); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "payments Ready with its PodDisruptionBudget and Loki entry", func() error {
		if err := ready(ctx, c, "payments"); err != nil {
			return err
		}
		return lokiHas(ctx, c, "payments")
	})
	installCRD(t, admin, looser)
	if err := admin.Patch(ctx, payments, client.RawPatch(types.MergePatchType,
		[]byte(`{"spec":{"disruption":{"maxUnavailable":99999999999}}}`))); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, storedProfile("bad-late", map[string]any{"minAvailable": int64(4294967297)})); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, storedProfile("search", map[string]any{"maxUnavailable": int64(1)})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a profile created after the bad ones reconciled; the bad ones reported", func() error {
		if err := ready(ctx, c, "search"); err != nil {
			return err
		}
		if err := reportedUndecodable(ctx, c, "bad-late", "spec.disruption.minAvailable"); err != nil {
			return err
		}
		if err := reportedUndecodable(ctx, c, "payments", "spec.disruption.maxUnavailable"); err != nil {
			return err
		}
		return lokiHas(ctx, c, "search", "payments")
	})
	pdb := &policyv1.PodDisruptionBudget{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: undecodableNamespace, Name: "payments"}, pdb); err != nil {
		t.Fatalf("the unreadable profile's PodDisruptionBudget is gone: %v", err)
	}
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.IntValue() != 2 {
		t.Errorf("the kept PodDisruptionBudget was changed: maxUnavailable %v, want its last good 2", mu)
	}

	// Re-applied under the current CRD, a profile reconciles again; fixed or deleted, it leaves the metric.
	installCRD(t, admin, current)
	fixed := storedProfile("bad-max", map[string]any{"maxUnavailable": int64(1)})
	if err := admin.Patch(ctx, fixed, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"disruption":{"maxUnavailable":1}}}`))); err != nil {
		t.Fatal(err)
	}
	if err := admin.Delete(ctx, storedProfile("bad-min", nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed profile Ready, and the fixed and deleted ones out of the metric", func() error {
		if err := ready(ctx, c, "bad-max"); err != nil {
			return err
		}
		for _, name := range []string{"bad-max", "bad-min"} {
			if undecodableSeriesOf(name) {
				return fmt.Errorf("%s still has a reliability_operator_undecodable_profiles series", name)
			}
		}
		return nil
	})
	if !undecodableSeriesOf("payments") {
		t.Error("payments, still unreadable, has no reliability_operator_undecodable_profiles series")
	}
}

// TestReadinessWaitsUntilTheOperatorHasReadEveryProfile runs the operator as a user who may not list
// profiles: its cache cannot sync, and the replica must not be Ready. Granted the operator's ClusterRole,
// it becomes Ready.
func TestReadinessWaitsUntilTheOperatorHasReadEveryProfile(t *testing.T) {
	env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := client.New(cfg, client.Options{Scheme: testScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	const user = "system:serviceaccount:reliability-operator-system:not-yet-bound"
	opCfg := rest.CopyConfig(cfg)
	opCfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	probes := testenv.FreeAddress(t)
	startOperator(t, opCfg, operator.Options{ProbeAddress: probes})

	// The probe server answers as soon as the manager runs; without permission the cache never syncs.
	var status int
	var body string
	waitFor(t, "the probe server answering", func() error {
		resp, err := http.Get("http://" + probes + "/readyz")
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		status, body = resp.StatusCode, string(b)
		return nil
	})
	if status == http.StatusOK || !strings.Contains(body, "profiles") {
		t.Fatalf("/readyz = %d (%q) for an operator that may not list profiles, want a failure naming the profiles check", status, body)
	}

	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(context.Background(), role); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(context.Background(), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}); err != nil {
		t.Fatal(err)
	}
	// The informer retries its list with a growing back-off, up to about half a minute.
	deadline := time.Now().Add(90 * time.Second)
	for {
		err := probeOK(probes, "/readyz")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Ready after the operator's ClusterRole was bound: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s, err := operator.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// startWithProfileCRD starts a control plane with every CRD the tests install, the given profile CRD (YAML,
// such as an older one) in place of the current one, beside the current ReliabilityPolicy CRD.
func startWithProfileCRD(t *testing.T, profileCRD []byte) *rest.Config {
	t.Helper()
	dir := t.TempDir()
	policyCRD, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilitypolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"reliabilityprofiles.yaml": profileCRD, "reliabilitypolicies.yaml": policyCRD} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dirs, err := testenv.CRDDirs()
	if err != nil {
		t.Fatal(err)
	}
	if dirs[0] != testenv.OwnCRDDir() {
		t.Fatalf("CRDDirs()[0] = %s, want the operator's own CRD folder", dirs[0])
	}
	dirs[0] = dir
	env, cfg, err := testenv.StartWithCRDs(dirs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return cfg
}

// profileCRDs are the current CRD and a looser copy without the disruption bounds, as older CRDs were.
func profileCRDs(t *testing.T) (current, looser *apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), "reliability.dev_reliabilityprofiles.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	current = &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(b, current); err != nil {
		t.Fatal(err)
	}
	looser = current.DeepCopy()
	disruption := looser.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["disruption"]
	for _, f := range []string{"maxUnavailable", "minAvailable"} {
		p, ok := disruption.Properties[f]
		if !ok {
			t.Fatalf("the CRD has no spec.disruption.%s", f)
		}
		p.XValidations, p.Maximum, p.Minimum = nil, nil, nil
		disruption.Properties[f] = p
	}
	looser.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["disruption"] = disruption
	return current, looser
}

// installCRD replaces the profile CRD's versions and waits until the API server judges by them: the current
// CRD refuses maxUnavailable 99999999999, the looser one accepts it.
func installCRD(t *testing.T, c client.Client, crd *apiextensionsv1.CustomResourceDefinition) {
	t.Helper()
	ctx := context.Background()
	strict := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties["disruption"].Properties["maxUnavailable"].XValidations != nil
	replaceCRD(t, c, crd, fmt.Sprintf("the API server serving the CRD (strict: %v)", strict), func() error {
		probe := storedProfile("crd-probe", map[string]any{"maxUnavailable": int64(99999999999)})
		err := c.Create(ctx, probe, client.DryRunAll)
		switch {
		case strict && apierrors.IsInvalid(err) && strings.Contains(err.Error(), "spec.disruption.maxUnavailable"):
			return nil
		case !strict && err == nil:
			return nil
		}
		return fmt.Errorf("a dry-run create of maxUnavailable 99999999999 answered %v", err)
	})
}

// replaceCRD gives the installed CRD the versions of crd, and waits until served says the API server
// serves them (a CRD update takes effect a moment later).
func replaceCRD(t *testing.T, c client.Client, crd *apiextensionsv1.CustomResourceDefinition, what string, served func() error) {
	t.Helper()
	live := &apiextensionsv1.CustomResourceDefinition{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(crd), live); err != nil {
		t.Fatal(err)
	}
	live.Spec.Versions = crd.Spec.Versions
	if err := c.Update(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	waitFor(t, what, served)
}

// storedProfile is a profile as the API server stores it, with any disruption, even one the Go types
// cannot hold.
func storedProfile(name string, disruption map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": v1alpha1.GroupVersion.String(), "kind": "ReliabilityProfile",
		"metadata": map[string]any{"name": name, "namespace": undecodableNamespace},
		"spec": map[string]any{"service": name, "tier": "non-critical",
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"network":  map[string]any{}, "disruption": disruption},
	}}
	return u
}

func ready(ctx context.Context, c client.Client, name string) error {
	rp := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: undecodableNamespace, Name: name}, rp); err != nil {
		return err
	}
	if err := rp.DecodeError(); err != nil {
		return fmt.Errorf("%s cannot be read: %v", name, err)
	}
	if r := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition); r == nil || r.Status != metav1.ConditionTrue || r.ObservedGeneration != rp.Generation {
		return fmt.Errorf("%s: Ready = %+v at generation %d", name, r, rp.Generation)
	}
	return nil
}

// reportedUndecodable checks the status (read past the types, which cannot hold the spec), the Warning
// Event and the metric of an unreadable profile.
func reportedUndecodable(ctx context.Context, c client.Client, name, field string) error {
	u := storedProfile(name, nil)
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), u); err != nil {
		return err
	}
	conditions, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	var ready map[string]any
	for _, c := range conditions {
		if m, _ := c.(map[string]any); m["type"] == v1alpha1.ReadyCondition {
			ready = m
		}
	}
	msg, _ := ready["message"].(string)
	if ready["status"] != "False" || ready["reason"] != v1alpha1.UndecodableReason || !strings.Contains(msg, field) || !strings.Contains(msg, "re-apply") {
		return fmt.Errorf("%s: Ready = %v, want False/Undecodable naming %s and how to fix it", name, ready, field)
	}
	if g, _ := ready["observedGeneration"].(int64); g != u.GetGeneration() {
		return fmt.Errorf("%s: Ready observed generation %d, want %d", name, g, u.GetGeneration())
	}
	events := &eventsv1.EventList{}
	if err := c.List(ctx, events, client.InNamespace(undecodableNamespace)); err != nil {
		return err
	}
	found := false
	for _, e := range events.Items {
		if e.Regarding.Name == name && e.Regarding.UID == u.GetUID() && e.Type == corev1.EventTypeWarning &&
			e.Reason == v1alpha1.UndecodableReason && strings.Contains(e.Note, field) {
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%s: no Warning Event %s naming %s", name, v1alpha1.UndecodableReason, field)
	}
	if !undecodableSeriesOf(name) {
		return fmt.Errorf("%s: no reliability_operator_undecodable_profiles series", name)
	}
	return nil
}

// undecodableSeriesOf says whether the operator exports reliability_operator_undecodable_profiles = 1 for the
// profile.
func undecodableSeriesOf(name string) bool {
	families, err := metrics.Registry.Gather()
	if err != nil {
		return false
	}
	for _, f := range families {
		if f.GetName() != "reliability_operator_undecodable_profiles" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == undecodableNamespace && labels["profile"] == name && m.GetGauge().GetValue() == 1 {
				return true
			}
		}
	}
	return false
}

// lokiHas checks that Loki's overrides hold the retention of each named profile (its service is its name).
func lokiHas(ctx context.Context, c client.Client, names ...string) error {
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "loki", Name: "retention"}, cm); err != nil {
		return err
	}
	for _, n := range names {
		if !strings.Contains(cm.Data["runtime-config.yaml"], fmt.Sprintf(`service="%s"`, n)) {
			return fmt.Errorf("Loki's overrides have no entry for %s:\n%s", n, cm.Data["runtime-config.yaml"])
		}
	}
	return nil
}

func probeOK(addr, path string) error {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s = %d: %s", path, resp.StatusCode, b)
	}
	return nil
}

// waitFor polls check until it passes, for at most 30 seconds.
func waitFor(t *testing.T, what string, check func() error) {
	t.Helper()
	waitForWithin(t, 30*time.Second, what, check)
}

// waitForWithin is waitFor with another deadline.
func waitForWithin(t *testing.T, within time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
