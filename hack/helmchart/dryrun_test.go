package helmchart

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// A real kube-apiserver accepts every object the chart templates, with the default values, with spot
// placement, and with every flag and optional object (the Loki Role, the ServiceMonitor): a server-side
// apply with dryRun=All and strict field validation, the request of `kubectl apply --server-side
// --dry-run=server`. The API server checks each object against its schema (the CRDs' too: the operator's,
// cert-manager's Issuer and Certificate, prometheus-operator's ServiceMonitor), compiles the webhook's match
// condition and refuses unknown fields; only the namespaces are created for real, since a dry run does not
// make them exist for the objects in them.
func TestTemplatesApplyToAPIServer(t *testing.T) {
	dirs, err := testenv.CRDDirs()
	if err != nil {
		t.Fatal(err)
	}
	env, cfg, err := testenv.StartWithCRDs(append(dirs, testenv.CertManagerCRDDir(t))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The release namespace, Loki's and the leader election Lease's of every-flag-values.yaml.
	for _, ns := range []string{namespace, "loki", "leases"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name        string
		valuesFiles []string
		minObjects  int
	}{
		{"default values", nil, 17},
		{"values-spot-placement.yaml", []string{spotPlacementFile}, 18},
		{"every flag, the Loki Role and the ServiceMonitor", []string{filepath.Join("testdata", "every-flag-values.yaml")}, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := helmTemplate(t, tc.valuesFiles)
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
				_, err = dyn.Resource(mapping.Resource).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, body,
					metav1.PatchOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "helm", Force: &force, FieldValidation: "Strict"})
				if err != nil {
					t.Errorf("%s: refused: %v", key(u), err)
				}
			}
		})
	}
}
