package operator_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	grafanav1beta1 "github.com/grafana/grafana-operator/v5/api/v1beta1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// TestDashboardConfigMapsForKubePrometheusStack runs the operator with --dashboard-configmaps beside
// --grafana-instance-selector and Loki's log retention, as its service account bound to the generated
// ClusterRole only: each profile gets a ConfigMap with the sidecar's label and the GrafanaDashboard's JSON;
// a change of the profile updates it and a change by someone else is undone; a foreign ConfigMap of its name
// is reported and left alone; restarted without the flag, the operator deletes its ConfigMaps and nothing
// else. Loki's ConfigMap, cached with the dashboards, keeps every profile's retention throughout.
func TestDashboardConfigMapsForKubePrometheusStack(t *testing.T) {
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operators stop: cleanups run last-in first-out
	ctx := context.Background()
	admin, err := client.New(cfg, client.Options{Scheme: mustScheme(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{"loki", "shop"} {
		if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	opCfg := asOperatorServiceAccount(t, admin, cfg)
	// The team's own ConfigMap, named as the search profile's dashboard will be.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "search-dashboard"},
		Data: map[string]string{"settings.json": `{"theirs": true}`}}
	if err := admin.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}

	withoutConfigMaps := operator.Options{
		Render:                 render.Options{GrafanaInstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"dashboards": "grafana"}}},
		LokiRetentionConfigMap: types.NamespacedName{Namespace: "loki", Name: "retention"}, LokiTenant: "fake",
	}
	withConfigMaps := withoutConfigMaps
	withConfigMaps.Render.DashboardConfigMaps = &render.DashboardConfigMapOptions{
		LabelKey: "grafana_dashboard", LabelValue: "1", FolderAnnotation: "grafana_folder"}
	_, _, stop := runOperator(t, opCfg, withConfigMaps)
	t.Cleanup(stop)

	checkout, search := sloProfile("checkout"), sloProfile("search")
	for _, rp := range []*v1alpha1.ReliabilityProfile{checkout, search} {
		if err := admin.Create(ctx, rp); err != nil {
			t.Fatal(err)
		}
	}
	key := client.ObjectKey{Namespace: "shop", Name: "checkout-dashboard"}
	var firstJSON string
	waitFor(t, "checkout's ConfigMap holds its GrafanaDashboard's JSON", func() error {
		cm, err := dashboardConfigMapOf(ctx, admin, checkout)
		if err != nil {
			return err
		}
		if cm.Labels["grafana_dashboard"] != "1" || cm.Labels[render.ManagedByLabel] != render.ManagedByValue || cm.Annotations["grafana_folder"] != "shop" {
			return fmt.Errorf("labels %v, annotations %v: want grafana_dashboard=1, the managed-by label, grafana_folder=shop", cm.Labels, cm.Annotations)
		}
		ref := metav1.GetControllerOf(cm)
		if ref == nil || ref.UID != checkout.UID {
			return fmt.Errorf("controller %+v, want the profile %s", ref, checkout.UID)
		}
		firstJSON = cm.Data["shop_checkout.json"]
		return nil
	})
	waitFor(t, "search reports the team's ConfigMap as foreign", func() error {
		return childState(ctx, admin, search, "ConfigMap", "search-dashboard", v1alpha1.ChildConflict)
	})
	waitFor(t, "Loki's overrides hold both profiles", func() error { return lokiHas(ctx, admin, "checkout", "search") })

	live := &v1alpha1.ReliabilityProfile{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(checkout), live); err != nil {
		t.Fatal(err)
	}
	// The dashboard reads the objective from the recorded series; a renamed SLO changes its JSON.
	live.Spec.SLOs[0].Name = "requests"
	if err := admin.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the ConfigMap follows the renamed SLO", func() error {
		cm, err := dashboardConfigMapOf(ctx, admin, checkout)
		if err != nil {
			return err
		}
		if j := cm.Data["shop_checkout.json"]; j == firstJSON || !strings.Contains(j, `"SLO requests"`) {
			return fmt.Errorf("the dashboard JSON has no row for the renamed SLO")
		}
		return nil
	})

	// Someone edits the dashboard by hand (kubectl edit): the operator restores it.
	cm := &corev1.ConfigMap{}
	if err := admin.Get(ctx, key, cm); err != nil {
		t.Fatal(err)
	}
	cm.Data["shop_checkout.json"] = `{"title": "edited"}`
	if err := admin.Update(ctx, cm, client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edited ConfigMap restored", func() error {
		_, err := dashboardConfigMapOf(ctx, admin, checkout)
		return err
	})

	// Restarted without --dashboard-configmaps: its ConfigMaps go, the team's stays, Loki's keeps working.
	stop()
	startOperator(t, opCfg, withoutConfigMaps)
	waitFor(t, "checkout's ConfigMap pruned", func() error {
		err := admin.Get(ctx, key, &corev1.ConfigMap{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (err=%v)", err)
	})
	waitFor(t, "search no longer reports a ConfigMap", func() error {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := admin.Get(ctx, client.ObjectKeyFromObject(search), rp); err != nil {
			return err
		}
		for _, r := range rp.Status.Resources {
			if r.Kind == "ConfigMap" {
				return fmt.Errorf("resources %+v", rp.Status.Resources)
			}
		}
		return nil
	})
	theirs := &corev1.ConfigMap{}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(foreign), theirs); err != nil || theirs.ResourceVersion != foreign.ResourceVersion {
		t.Errorf("the team's ConfigMap was changed or deleted (err=%v): %+v", err, theirs)
	}
	if err := admin.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "checkout"}, &grafanav1beta1.GrafanaDashboard{}); err != nil {
		t.Errorf("the GrafanaDashboard went with the ConfigMap: %v", err)
	}
	if err := lokiHas(ctx, admin, "checkout", "search"); err != nil {
		t.Errorf("Loki's ConfigMap after the restart: %v", err)
	}
}

// dashboardConfigMapOf returns the profile's dashboard ConfigMap if its one data key holds exactly the JSON of
// the profile's GrafanaDashboard.
func dashboardConfigMapOf(ctx context.Context, c client.Client, rp *v1alpha1.ReliabilityProfile) (*corev1.ConfigMap, error) {
	gd := &grafanav1beta1.GrafanaDashboard{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(rp), gd); err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: rp.Namespace, Name: rp.Name + "-dashboard"}, cm); err != nil {
		return nil, err
	}
	k := rp.Namespace + "_" + rp.Name + ".json"
	if len(cm.Data) != 1 || cm.Data[k] != gd.Spec.JSON {
		return nil, fmt.Errorf("ConfigMap data %q differs from the GrafanaDashboard's JSON %q", cm.Data[k], gd.Spec.JSON)
	}
	return cm, nil
}

func childState(ctx context.Context, c client.Client, rp *v1alpha1.ReliabilityProfile, kind, name string, want v1alpha1.ChildState) error {
	live := &v1alpha1.ReliabilityProfile{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
		return err
	}
	for _, r := range live.Status.Resources {
		if r.Kind == kind && r.Name == name && r.State == want {
			return nil
		}
	}
	return fmt.Errorf("no %s %s in state %s: %+v", kind, name, want, live.Status.Resources)
}

// asOperatorServiceAccount binds the generated ClusterRole, and nothing else, to the operator's service
// account, and returns a config that impersonates it: what the operator does here, config/rbac allows.
func asOperatorServiceAccount(t *testing.T, admin client.Client, cfg *rest.Config) *rest.Config {
	t.Helper()
	const user = "system:serviceaccount:reliability-operator-system:reliability-operator-controller-manager"
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(b, role); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := admin.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "operator"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}); err != nil {
		t.Fatal(err)
	}
	opCfg := rest.CopyConfig(cfg)
	opCfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	return opCfg
}

// TestALokiConfigMapNamedLikeADashboardIsTakenByNeither: --loki-retention-configmap names the ConfigMap that a
// profile's dashboard has. Whichever was there first keeps it, and the other controller reports it instead of
// writing into it: Loki's overrides never land in a dashboard, nor a dashboard in Loki's file. Which one is
// first is set by running the operator with one option, then restarting it with both.
func TestALokiConfigMapNamedLikeADashboardIsTakenByNeither(t *testing.T) {
	dashboards := render.Options{DashboardConfigMaps: &render.DashboardConfigMapOptions{LabelKey: "grafana_dashboard", LabelValue: "1"}}
	loki := types.NamespacedName{Namespace: "shop", Name: "checkout-dashboard"}
	for _, tc := range []struct {
		name  string
		first operator.Options
		// wantKey is the one data key of the ConfigMap, whose it stays; the other reports it.
		wantKey string
	}{
		{"the dashboard first", operator.Options{Render: dashboards}, "shop_checkout.json"},
		{"Loki's first", operator.Options{LokiRetentionConfigMap: loki, LokiTenant: "fake"}, "runtime-config.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, cfg, err := testenv.StartWithCRDs(testenv.OwnCRDDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = env.Stop() })
			ctx := context.Background()
			c, err := client.New(cfg, client.Options{Scheme: mustScheme(t)})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}); err != nil {
				t.Fatal(err)
			}
			rp := sloProfile("checkout")
			if err := c.Create(ctx, rp); err != nil {
				t.Fatal(err)
			}
			cmKey := client.ObjectKey{Namespace: "shop", Name: "checkout-dashboard"}
			_, _, stop := runOperator(t, cfg, tc.first)
			t.Cleanup(stop)
			waitFor(t, "the first ConfigMap created", func() error {
				cm := &corev1.ConfigMap{}
				if err := c.Get(ctx, cmKey, cm); err != nil {
					return err
				}
				if _, ok := cm.Data[tc.wantKey]; !ok {
					return fmt.Errorf("data keys of %v, want %s", cm.Data, tc.wantKey)
				}
				return nil
			})
			stop()

			startOperator(t, cfg, operator.Options{Render: dashboards, LokiRetentionConfigMap: loki, LokiTenant: "fake"})
			var version string
			check := func() error {
				cm := &corev1.ConfigMap{}
				if err := c.Get(ctx, cmKey, cm); err != nil {
					return err
				}
				if _, ok := cm.Data[tc.wantKey]; !ok || len(cm.Data) != 1 {
					return fmt.Errorf("data keys of %v, want %s only", cm.Data, tc.wantKey)
				}
				version = cm.ResourceVersion
				live := &v1alpha1.ReliabilityProfile{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(rp), live); err != nil {
					return err
				}
				if tc.wantKey == "runtime-config.yaml" {
					if ref := metav1.GetControllerOf(cm); ref != nil {
						return fmt.Errorf("Loki's ConfigMap got the controller %+v", ref)
					}
					return childState(ctx, c, rp, "ConfigMap", "checkout-dashboard", v1alpha1.ChildConflict)
				}
				if l := live.Status.Logs; l == nil || l.Enforced || !strings.Contains(l.Message, "belongs to the ReliabilityProfile shop/checkout") {
					return fmt.Errorf("status.logs = %+v, want not enforced, naming the profile", l)
				}
				return nil
			}
			waitFor(t, "the other controller reports the ConfigMap", check)
			first := version
			time.Sleep(2 * time.Second) // both controllers look again on every change; neither may take it meanwhile
			if err := check(); err != nil || version != first {
				t.Errorf("the ConfigMap changed: resourceVersion %s, then %s (err=%v)", first, version, err)
			}
		})
	}
}
