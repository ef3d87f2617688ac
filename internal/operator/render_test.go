package operator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/apply"
	"github.com/reliability-operator/reliability-operator/internal/cli"
	"github.com/reliability-operator/reliability-operator/internal/operator"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// clusterFlags are the operator's flags in this test: every flag that shapes children, each with a value
// other than its default, so that leaving any of them out of `render` changes what it prints.
var clusterFlags = []string{
	"--monitoring-labels=release=kps,team=sre",
	"--alert-labels=cluster=prod-eu",
	"--velero-namespace=backups",
	"--slo-window-interval=3m",
	"--logging-cluster-outputs=critical=logs-30d,non-critical=logs-7d",
	"--grafana-instance-selector=dashboards=grafana",
	"--dashboard-configmaps=true",
	"--dashboard-configmap-label=grafana_dashboard=yes",
	"--dashboard-configmap-folder-annotation=grafana_folder",
}

// TestTheCLIRendersWhatTheOperatorApplies runs the operator with clusterFlags, parsed by the binding main.go
// uses, on profiles that together have every kind of child, and then `reliability-operator render` with the
// same flags on the same files. Render must print the same children (apiVersion, kind, namespace, name) as
// the cluster holds, and every field it prints must be in the live object with the same value.
//
// The live object has more, which the comparison leaves out: what the API server sets (uid,
// resourceVersion, generation, creationTimestamp, managedFields, status, and the defaults of each kind's
// schema), and what the applier adds to make a child the profile's (the owner reference, and the
// annotations reliability.dev/desired-hash and reliability.dev/owner-uid). Labels and the other annotations
// must be equal, not only included. That the applier sent nothing else is shown by the desired-hash
// annotation: it is the hash of the manifest the operator rendered, and must equal the hash of render's.
//
// The test then renders once without each flag in turn, and fails if the comparison would not notice.
func TestTheCLIRendersWhatTheOperatorApplies(t *testing.T) {
	var o operator.Options
	fs := flag.NewFlagSet("reliability-operator", flag.ContinueOnError)
	options.BindRender(fs, &o.Render)
	if err := fs.Parse(clusterFlags); err != nil {
		t.Fatal(err)
	}
	for _, name := range options.RenderFlagNames() {
		if !slices.ContainsFunc(clusterFlags, func(f string) bool { return strings.HasPrefix(f, "--"+name+"=") }) {
			t.Fatalf("clusterFlags lacks --%s: give it a value other than its default", name)
		}
	}

	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() }) // after the operator stops: cleanups run last-in first-out
	ctx, c := startOperator(t, cfg, o)
	for _, ns := range []string{"corpus", "backups"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	// The samples (ratio and latency SLOs, a NetworkPolicy) and a profile with a backup (a Velero Schedule).
	files := []string{filepath.Join(testenv.RepoRoot(), "config", "samples"),
		filepath.Join(testenv.RepoRoot(), "testdata", "profiles", "valid", "023-backup.yaml")}
	docs, err := cli.Load(files, nil)
	if err != nil {
		t.Fatal(err)
	}
	var profiles []client.ObjectKey
	for _, d := range docs {
		u := &unstructured.Unstructured{Object: d.Object}
		if err := c.Create(ctx, u); err != nil {
			t.Fatalf("%s: %v", d.Source, err)
		}
		profiles = append(profiles, client.ObjectKeyFromObject(u))
	}
	waitFor(t, "every profile Ready", func() error { return allReady(ctx, c, profiles) })
	live, err := liveChildren(ctx, c)
	if err != nil {
		t.Fatal(err)
	}

	rendered := renderWithCLI(t, files, clusterFlags)
	kinds := map[string]bool{}
	for _, obj := range rendered {
		kinds[obj["kind"].(string)] = true
	}
	for _, child := range render.ChildTypes() {
		if kind := child.GetObjectKind().GroupVersionKind().Kind; !kinds[kind] {
			t.Errorf("the profiles render no %s: add a profile that has one", kind)
		}
	}
	for _, d := range compareWithLive(rendered, live) {
		t.Error(d)
	}

	for i, f := range clusterFlags {
		without := slices.Delete(slices.Clone(clusterFlags), i, i+1)
		diffs := compareWithLive(renderWithCLI(t, files, without), live)
		if len(diffs) == 0 {
			t.Errorf("render without %s printed what the operator applied with it: the comparison cannot see that flag", f)
			continue
		}
		t.Logf("Without %s: %d differences, the first: %s", f, len(diffs), diffs[0])
	}

	// The cluster's ReliabilityPolicy: render with --policy and the same file prints what the operator
	// applies under it; without --policy, it does not.
	policyFile := filepath.Join(t.TempDir(), "policy.yaml")
	policyYAML := `apiVersion: reliability.dev/v1alpha1
kind: ReliabilityPolicy
metadata:
  name: default
spec:
  tiers:
    critical: {restoreTestMaxAge: 30d, maxSpotFraction: "0"}
  monitoring:
    labels: {release: kube-prometheus-stack}
    namespace: observability
  alerting:
    labels: {cluster: prod-us, env: prod}
  backends:
    loggingClusterOutputs: {critical: logs-long, nonCritical: logs-short}
`
	if err := os.WriteFile(policyFile, []byte(policyYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	docs, err = cli.Load([]string{policyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &unstructured.Unstructured{Object: docs[0].Object}); err != nil {
		t.Fatal(err)
	}
	withPolicy := append([]string{"--policy", policyFile}, clusterFlags...)
	waitFor(t, "the children follow the policy", func() error {
		live, err := liveChildren(ctx, c)
		if err != nil {
			return err
		}
		if diffs := compareWithLive(renderWithCLI(t, files, withPolicy), live); len(diffs) > 0 {
			return fmt.Errorf("%d differences between render --policy and the cluster, the first: %s", len(diffs), diffs[0])
		}
		return nil
	})
	live, err = liveChildren(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if diffs := compareWithLive(renderWithCLI(t, files, clusterFlags), live); len(diffs) == 0 {
		t.Error("render without --policy printed what the operator applied under the policy: the comparison cannot see the policy")
	}
}

func allReady(ctx context.Context, c client.Client, profiles []client.ObjectKey) error {
	for _, key := range profiles {
		rp := &v1alpha1.ReliabilityProfile{}
		if err := c.Get(ctx, key, rp); err != nil {
			return err
		}
		ready := meta.FindStatusCondition(rp.Status.Conditions, v1alpha1.ReadyCondition)
		if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != rp.Generation {
			return fmt.Errorf("%s: Ready = %+v, resources %+v", key, ready, rp.Status.Resources)
		}
	}
	return nil
}

// childKey names a child as the comparison does: apiVersion, kind, namespace, name.
func childKey(obj map[string]any) string {
	m, _ := obj["metadata"].(map[string]any)
	return fmt.Sprintf("%v %v %v/%v", obj["apiVersion"], obj["kind"], m["namespace"], m["name"])
}

// liveChildren are the operator's children of every kind it renders, in every namespace, as JSON values.
func liveChildren(ctx context.Context, c client.Client) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	for _, child := range render.ChildTypes() {
		list := &unstructured.UnstructuredList{}
		gvk := child.GetObjectKind().GroupVersionKind()
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.MatchingLabels{render.ManagedByLabel: render.ManagedByValue}); err != nil {
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		for _, item := range list.Items {
			obj, err := jsonValue(item.Object)
			if err != nil {
				return nil, err
			}
			out[childKey(obj)] = obj
		}
	}
	return out, nil
}

// renderWithCLI runs `reliability-operator render -o json` and returns its children as JSON values.
func renderWithCLI(t *testing.T, files, flags []string) []map[string]any {
	t.Helper()
	var crds [][]byte // as main.go embeds them
	for _, f := range []string{"reliability.dev_reliabilityprofiles.yaml", "reliability.dev_reliabilitypolicies.yaml"} {
		b, err := os.ReadFile(filepath.Join(testenv.OwnCRDDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		crds = append(crds, b)
	}
	crd := bytes.Join(crds, []byte("\n---\n"))
	args := []string{"render", "-o", "json"}
	for _, f := range files {
		args = append(args, "-f", f)
	}
	var stdout, stderr bytes.Buffer
	if code := cli.Run(append(args, flags...), nil, &stdout, &stderr, crd); code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
	}
	dec := json.NewDecoder(&stdout)
	dec.UseNumber()
	var list struct{ Items []map[string]any }
	if err := dec.Decode(&list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// jsonValue is v as encoding/json reads it, with numbers kept as they are written, so that a rendered
// object and a live one compare by their JSON.
func jsonValue(v map[string]any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	return out, dec.Decode(&out)
}

// compareWithLive lists every difference between the rendered children and the live ones.
func compareWithLive(rendered []map[string]any, live map[string]map[string]any) []string {
	var diffs []string
	seen := map[string]bool{}
	for _, want := range rendered {
		key := childKey(want)
		seen[key] = true
		got, ok := live[key]
		if !ok {
			diffs = append(diffs, key+": rendered, not in the cluster")
			continue
		}
		diffs = append(diffs, contained(key, want, got)...)
		wantMeta, gotMeta := want["metadata"].(map[string]any), got["metadata"].(map[string]any)
		if !reflect.DeepEqual(stringMap(wantMeta["labels"]), stringMap(gotMeta["labels"])) {
			diffs = append(diffs, fmt.Sprintf("%s: labels %v, live %v", key, wantMeta["labels"], gotMeta["labels"]))
		}
		annotations := stringMap(gotMeta["annotations"])
		liveHash := annotations[apply.DesiredHashAnnotation]
		delete(annotations, apply.DesiredHashAnnotation)
		delete(annotations, apply.OwnerUIDAnnotation)
		if !reflect.DeepEqual(stringMap(wantMeta["annotations"]), annotations) {
			diffs = append(diffs, fmt.Sprintf("%s: annotations %v, live %v", key, wantMeta["annotations"], annotations))
		}
		if hash, err := apply.DesiredHash(want); err != nil || hash != liveHash {
			diffs = append(diffs, fmt.Sprintf("%s: the operator applied a manifest of hash %s, render printed one of hash %s (%v)", key, liveHash, hash, err))
		}
	}
	for _, key := range slices.Sorted(maps.Keys(live)) {
		if !seen[key] {
			diffs = append(diffs, key+": in the cluster, not rendered")
		}
	}
	sort.Strings(diffs)
	return diffs
}

// contained lists the values of want that got lacks or holds differently: maps may have more keys in got
// (what the API server adds), lists must have as many items, each containing want's.
func contained(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: rendered an object, live %v", path, got)}
		}
		var diffs []string
		for k, v := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: rendered %v, not in the live object", path, k, v))
				continue
			}
			diffs = append(diffs, contained(path+"."+k, v, gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: rendered %v, live %v", path, want, got)}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, contained(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	default:
		if !reflect.DeepEqual(want, got) {
			return []string{fmt.Sprintf("%s: rendered %v, live %v", path, want, got)}
		}
		return nil
	}
}

func stringMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return maps.Clone(m)
}
