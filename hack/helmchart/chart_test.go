package helmchart

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/options"
	"github.com/reliability-operator/reliability-operator/internal/render"
	"github.com/reliability-operator/reliability-operator/internal/testenv"
)

// The release as the checks install it: named so that the chart names every object as config/base does.
const (
	release   = "reliability-operator"
	namespace = "reliability-operator-system"
)

var (
	chartDir          = filepath.Join(testenv.RepoRoot(), "charts", "reliability-operator")
	spotPlacementFile = filepath.Join(chartDir, "values-spot-placement.yaml")
	everyFlagFile     = filepath.Join("testdata", "every-flag-values.yaml")
)

// helmTemplate renders the chart with the given values files and --set pairs.
func helmTemplate(t *testing.T, valuesFiles []string, set ...string) []unstructured.Unstructured {
	t.Helper()
	out, err := runHelmTemplate(t, valuesFiles, set...)
	if err != nil {
		t.Fatalf("helm template %v %v: %v\n%s", valuesFiles, set, err, out)
	}
	return decodeAll(t, out)
}

func runHelmTemplate(t *testing.T, valuesFiles []string, set ...string) ([]byte, error) {
	t.Helper()
	args := []string{"template", release, chartDir, "--namespace", namespace}
	for _, f := range valuesFiles {
		args = append(args, "--values", f)
	}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	cmd := exec.Command(testenv.Helm(t), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stderr.Bytes(), err
	}
	return out, nil
}

func kustomizeBuild(t *testing.T, overlay string) []unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(testenv.Kustomize(t), "build", filepath.Join(testenv.RepoRoot(), "config", overlay)).Output()
	if err != nil {
		t.Fatalf("kustomize build config/%s: %v", overlay, err)
	}
	return decodeAll(t, out)
}

// decodeAll splits a multi-document YAML stream into objects, dropping empty documents.
func decodeAll(t *testing.T, stream []byte) []unstructured.Unstructured {
	t.Helper()
	var objs []unstructured.Unstructured
	for _, doc := range bytes.Split(append([]byte("\n"), stream...), []byte("\n---")) {
		var u map[string]any
		if err := yaml.Unmarshal(doc, &u); err != nil {
			t.Fatalf("decoding %q: %v", firstLines(doc), err)
		}
		if len(u) > 0 {
			objs = append(objs, unstructured.Unstructured{Object: u})
		}
	}
	return objs
}

func firstLines(b []byte) string {
	lines := strings.SplitN(string(b), "\n", 5)
	return strings.Join(lines[:min(4, len(lines))], "\n")
}

// key names an object as the API server does: group, kind, namespace and name.
func key(u unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return fmt.Sprintf("%s/%s %s/%s", gvk.Group, gvk.Kind, u.GetNamespace(), u.GetName())
}

// normalize removes what differs between a Helm release and a kustomize build by design, and nothing
// else, and indexes the objects by key:
//   - the labels app.kubernetes.io/managed-by (Helm or kustomize) and helm.sh/chart (Helm's own);
//   - the CRD's annotation helm.sh/resource-policy: keep, which keeps it on `helm uninstall` (kustomize has no
//     uninstall);
//   - kustomize's Namespace: Helm installs into the release namespace, which the chart cannot own (helm
//     install --create-namespace makes it; README says how to label it as config/manager does).
//
// Field order and YAML style do not count: objects are compared decoded.
func normalize(t *testing.T, objs []unstructured.Unstructured) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, u := range objs {
		u = *u.DeepCopy()
		if u.GetKind() == "Namespace" && u.GetAPIVersion() == "v1" {
			continue
		}
		labels := u.GetLabels()
		delete(labels, "app.kubernetes.io/managed-by")
		delete(labels, "helm.sh/chart")
		u.SetLabels(labels) // an empty map removes the field
		if u.GetKind() == "CustomResourceDefinition" {
			annotations := u.GetAnnotations()
			delete(annotations, "helm.sh/resource-policy")
			u.SetAnnotations(annotations)
		}
		k := key(u)
		if _, dup := out[k]; dup {
			t.Errorf("%s appears twice", k)
		}
		out[k] = u.Object
	}
	return out
}

// compareObjects reports every object one side has and the other lacks, and every field that differs.
func compareObjects(t *testing.T, chartName string, chart map[string]map[string]any, configName string, config map[string]map[string]any) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(config)) {
		c, ok := chart[k]
		if !ok {
			t.Errorf("%s is in %s, not in %s", k, configName, chartName)
			continue
		}
		for _, d := range differences("", c, config[k]) {
			t.Errorf("%s: %s", k, d)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(chart)) {
		if _, ok := config[k]; !ok {
			t.Errorf("%s is in %s, not in %s", k, chartName, configName)
		}
	}
}

// differences lists the paths where chart and config differ, with both values.
func differences(path string, chart, config any) []string {
	cm, cok := chart.(map[string]any)
	km, kok := config.(map[string]any)
	if cok && kok {
		var out []string
		for _, k := range slices.Sorted(maps.Keys(union(cm, km))) {
			out = append(out, differences(path+"."+k, cm[k], km[k])...)
		}
		return out
	}
	cl, cok := chart.([]any)
	kl, kok := config.([]any)
	if cok && kok && len(cl) == len(kl) {
		var out []string
		for i := range cl {
			out = append(out, differences(fmt.Sprintf("%s[%d]", path, i), cl[i], kl[i])...)
		}
		return out
	}
	if reflect.DeepEqual(chart, config) {
		return nil
	}
	return []string{fmt.Sprintf("%s is %s in the chart and %s in config/", path, show(chart), show(config))}
}

func union(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		out[k] = v
	}
	return out
}

func show(v any) string {
	if v == nil {
		return "absent"
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(string(b))
}

// The chart installs what config/ installs: with its default values config/default, with
// values-spot-placement.yaml config/spot-placement, and with loki.retentionConfigMap the Role of config/loki.
func TestChartEqualsConfig(t *testing.T) {
	for _, c := range []struct {
		name        string
		valuesFiles []string
		set         []string
		overlay     string
		// only keeps the chart's objects in this namespace (config/loki is applied on its own).
		only string
	}{
		{name: "default values give config/default", overlay: "default"},
		{name: "values-spot-placement.yaml gives config/spot-placement", valuesFiles: []string{spotPlacementFile}, overlay: "spot-placement"},
		{name: "a Loki ConfigMap gives config/loki's Role in Loki's namespace", set: []string{"loki.retentionConfigMap=loki/runtime-config"}, overlay: "loki", only: "loki"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rendered := helmTemplate(t, c.valuesFiles, c.set...)
			if c.only != "" {
				rendered = slices.DeleteFunc(rendered, func(u unstructured.Unstructured) bool { return u.GetNamespace() != c.only })
			}
			chart, config := normalize(t, rendered), normalize(t, kustomizeBuild(t, c.overlay))
			// A comparison of two empty sets would pass whatever the chart does.
			if len(config) < 2 || len(chart) < 2 {
				t.Fatalf("the chart rendered %d objects, config/%s %d", len(chart), c.overlay, len(config))
			}
			compareObjects(t, "the chart", chart, "config/"+c.overlay, config)
		})
	}
}

// operatorFlag is a flag main.go defines, with its default as written there ("" when it is not a literal
// the test can read: the zap flags).
type operatorFlag struct{ name, defaultValue string }

// operatorFlags are the flags main.go defines on its flag set: fs.String("name", default, ...),
// fs.BoolVar(&v, "name", default, ...) and so on, plus --zap-log-level when it binds the zap flags (the
// chart's logLevel; the other zap flags go through extraArgs).
func operatorFlags(t *testing.T) []operatorFlag {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(testenv.RepoRoot(), "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var flags []operatorFlag
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if sel.Sel.Name == "BindFlags" {
			flags = append(flags, operatorFlag{name: "zap-log-level"})
			return true
		}
		if sel.Sel.Name == "BindRender" {
			// The flags that shape children, shared with the CLI: read from a flag set they are bound to.
			fs := flag.NewFlagSet("render", flag.ContinueOnError)
			options.BindRender(fs, &render.Options{})
			fs.VisitAll(func(f *flag.Flag) {
				def := f.DefValue
				if d, err := time.ParseDuration(def); err == nil {
					def = d.String() // as literal writes a duration, and the flag table is read
				}
				flags = append(flags, operatorFlag{name: f.Name, defaultValue: def})
			})
			return true
		}
		if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "fs" || sel.Sel.Name == "Parse" {
			return true
		}
		nameArg := 0
		if strings.HasSuffix(sel.Sel.Name, "Var") {
			nameArg = 1
		}
		if len(call.Args) <= nameArg+1 {
			return true
		}
		lit, ok := call.Args[nameArg].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("main.go: fs.%s has no literal flag name", sel.Sel.Name)
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		flags = append(flags, operatorFlag{name: name, defaultValue: literal(t, name, call.Args[nameArg+1])})
		return true
	})
	if len(flags) < 15 {
		t.Fatalf("found only %d flags in main.go: %v", len(flags), flags)
	}
	return flags
}

// literal is a flag's default as main.go writes it: a string, a number, true or false, or a duration such
// as 5*time.Minute (as time.Duration's String writes it).
func literal(t *testing.T, flag string, e ast.Expr) string {
	t.Helper()
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind == token.STRING {
			s, _ := strconv.Unquote(e.Value)
			return s
		}
		return e.Value
	case *ast.Ident:
		return e.Name
	case *ast.UnaryExpr: // a negative number, such as --shard-preferred's -1
		if n, ok := e.X.(*ast.BasicLit); ok && e.Op == token.SUB && n.Kind == token.INT {
			return "-" + n.Value
		}
	case *ast.BinaryExpr:
		n, nok := e.X.(*ast.BasicLit)
		unit, uok := e.Y.(*ast.SelectorExpr)
		units := map[string]time.Duration{"Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}
		if nok && uok && e.Op == token.MUL && units[unit.Sel.Name] != 0 {
			if count, err := strconv.Atoi(n.Value); err == nil {
				return (time.Duration(count) * units[unit.Sel.Name]).String()
			}
		}
	}
	t.Errorf("main.go: the default of --%s is not a literal this test reads", flag)
	return ""
}

// flagTableDefaults are the operator's defaults as the chart's flag table writes them: the last element of
// each row, (list "name" <value> <default>).
func flagTableDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "templates", "_helpers.tpl"))
	if err != nil {
		t.Fatal(err)
	}
	rows := regexp.MustCompile(`(?m)^\s*\(list "([a-z-]+)" .+ ("[^"]*"|true|false|-?[0-9]+)\)$`).FindAllStringSubmatch(string(b), -1)
	defaults := map[string]string{}
	for _, r := range rows {
		v := r[2]
		if s, err := strconv.Unquote(v); err == nil {
			v = s
		}
		if d, err := time.ParseDuration(v); err == nil && strings.ContainsAny(v, "hms") {
			v = d.String()
		}
		defaults[r[1]] = v
	}
	if len(defaults) < 15 {
		t.Fatalf("found only %d rows in the flag table of _helpers.tpl", len(defaults))
	}
	return defaults
}

// The flag table's defaults are main.go's: a flag whose value equals its table default is not passed, so a
// default changed in main.go alone would leave values.yaml promising what the operator no longer does.
func TestFlagTableDefaultsAreTheOperators(t *testing.T) {
	table := flagTableDefaults(t)
	for _, f := range operatorFlags(t) {
		if f.defaultValue == "" && f.name == "zap-log-level" {
			continue // zap's own default, info
		}
		got, ok := table[f.name]
		switch {
		case !ok:
			t.Errorf("--%s has no row in the flag table of templates/_helpers.tpl", f.name)
		case got != f.defaultValue:
			t.Errorf("--%s: the flag table's default is %q, main.go's %q", f.name, got, f.defaultValue)
		}
	}
}

// managerArgs are the arguments of the operator's container.
func managerArgs(t *testing.T, objs []unstructured.Unstructured) []string {
	t.Helper()
	for _, u := range objs {
		if u.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			c := c.(map[string]any)
			if c["name"] == "manager" {
				args, _, err := unstructured.NestedStringSlice(c, "args")
				if err != nil {
					t.Fatal(err)
				}
				return args
			}
		}
	}
	t.Fatal("no Deployment with a manager container")
	return nil
}

// Every flag of main.go is a value of the chart: with every value away from the operator's default, each
// flag is passed once, with the value's form the operator parses. A new flag without a value fails here.
func TestEveryFlagIsAValue(t *testing.T) {
	args := managerArgs(t, helmTemplate(t, []string{everyFlagFile}))
	want := []string{
		"--leader-elect=false",
		"--metrics-bind-address=:9090",
		"--health-probe-bind-address=:9091",
		"--pprof-bind-address=127.0.0.1:6060",
		"--leader-election-namespace=leases",
		"--prometheus-url=http://prometheus-operated.monitoring:9090",
		"--prometheus-interval=10m",
		"--velero-namespace=backups",
		"--slo-window-interval=1m",
		"--loki-retention-configmap=loki/runtime-config",
		"--loki-tenant=team-a",
		"--logging-cluster-outputs=critical=logs-30d,non-critical=logs-7d",
		"--grafana-instance-selector=dashboards in (grafana, grafana-ha)",
		"--dashboard-configmaps",
		"--dashboard-configmap-label=grafana_dashboard=yes",
		"--dashboard-configmap-folder-annotation=grafana_folder",
		"--spot-placement",
		"--validating-webhook=false",
		"--webhook-port=10443",
		"--webhook-cert-dir=/certs",
		"--max-concurrent-reconciles=8",
		"--kube-api-qps=75.5",
		"--kube-api-burst=150",
		"--shards=3",
		"--shard-preferred=2",
		"--monitoring-labels=release=kube-prometheus-stack,team=sre",
		"--alert-labels=cluster=prod-eu,env=prod",
		"--zap-log-level=debug",
		"--zap-encoder=console",
	}
	if !slices.Equal(args, want) {
		t.Errorf("the operator's arguments are\n  %s\nwant\n  %s", strings.Join(args, "\n  "), strings.Join(want, "\n  "))
	}
	passed := map[string]int{}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		passed[name]++
	}
	for _, f := range operatorFlags(t) {
		if passed[f.name] != 1 {
			t.Errorf("--%s of main.go is passed %d times with every value set: give it a value in values.yaml, "+
				"values.schema.json and a row in templates/_helpers.tpl's flag table", f.name, passed[f.name])
		}
	}
}

// values.schema.json refuses a bad value before anything is installed, and names its field.
func TestSchemaRefusesBadValues(t *testing.T) {
	type badValue struct {
		name  string
		set   []string
		field string
	}
	cases := []badValue{
		{"spot placement with two replicas", []string{"spotPlacement.enabled=true", "replicaCount=2"}, "replicaCount"},
		{"a Loki ConfigMap without its namespace", []string{"loki.retentionConfigMap=runtime-config"}, "retentionConfigMap"},
		{"an interval that is not a Go duration", []string{"prometheus.interval=five minutes"}, "interval"},
		{"a log tier that does not exist", []string{"logging.clusterOutputs.gold=logs-90d"}, "clusterOutputs"},
		{"a misspelt key", []string{"spotPlacment.enabled=true"}, "spotPlacment"},
		{"a port out of range", []string{"webhook.port=70000"}, "port"},
		{"no worker", []string{"reconciles.maxConcurrent=0"}, "maxConcurrent"},
		{"no requests per second to the API server", []string{"kubeAPI.qps=0"}, "qps"},
		{"no burst of requests to the API server", []string{"kubeAPI.burst=0"}, "burst"},
		{"a log level zap does not know", []string{"logLevel=verbose"}, "logLevel"},
		{"a Prometheus URL without a scheme", []string{"prometheus.url=prometheus:9090"}, "url"},
		{"a string where a boolean belongs", []string{"validatingWebhook.enabled=maybe"}, "enabled"},
		{"an alert label that is not a Prometheus label name", []string{"alertLabels.team-name=sre"}, "alertLabels"},
		{"an alert label value with a comma, which --alert-labels would split", []string{`alertLabels.env=prod\,eu`}, "alertLabels"},
	}
	// The labels the operator sets on every alert, which --alert-labels refuses.
	for _, l := range v1alpha1.OperatorAlertLabels {
		cases = append(cases, badValue{"the operator's own alert label " + l, []string{"alertLabels." + l + "=x"}, "alertLabels/" + l})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := runHelmTemplate(t, nil, c.set...)
			if err == nil {
				t.Fatalf("helm template --set %v succeeded", c.set)
			}
			if !strings.Contains(string(out), "schema") || !strings.Contains(string(out), c.field) {
				t.Errorf("helm template --set %v: want a schema error naming %s, got\n%s", c.set, c.field, out)
			}
		})
	}
	// The same command with good values passes: the refusals above are the values', not the command's.
	if out, err := runHelmTemplate(t, nil, "spotPlacement.enabled=true", "replicaCount=1", "loki.retentionConfigMap=loki/runtime-config", "alertLabels.env=prod"); err != nil {
		t.Fatalf("helm template with good values: %v\n%s", err, out)
	}
}

// helm lint --strict passes with each values file the chart is tested with.
func TestHelmLint(t *testing.T) {
	for _, files := range [][]string{nil, {spotPlacementFile}, {everyFlagFile}} {
		args := []string{"lint", "--strict", chartDir, "--namespace", namespace}
		for _, f := range files {
			args = append(args, "--values", f)
		}
		out, err := exec.Command(testenv.Helm(t), args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "0 chart(s) failed") {
			t.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// VERSION is the one version: the chart's version and appVersion, the image tag config/manager deploys and
// the chart's default image tag. (go test ./hack/bundle checks the bundle's; the Makefile reads VERSION.)
func TestVersionIsVERSION(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(b))
	if version == "" {
		t.Fatal("VERSION is empty")
	}
	var chart struct{ Version, AppVersion string }
	readYAML(t, filepath.Join(chartDir, "Chart.yaml"), &chart)
	if chart.Version != version || chart.AppVersion != version {
		t.Errorf("Chart.yaml has version %q and appVersion %q, VERSION is %q", chart.Version, chart.AppVersion, version)
	}
	var kustomization struct {
		Images []struct{ Name, NewName, NewTag string }
	}
	readYAML(t, filepath.Join(testenv.RepoRoot(), "config", "manager", "kustomization.yaml"), &kustomization)
	if len(kustomization.Images) != 1 || kustomization.Images[0].NewTag != "v"+version {
		t.Errorf("config/manager deploys %v, want the tag v%s", kustomization.Images, version)
	}
	for _, u := range helmTemplate(t, nil) {
		if u.GetKind() != "Deployment" {
			continue
		}
		containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
		if image := containers[0].(map[string]any)["image"]; !strings.HasSuffix(fmt.Sprint(image), ":v"+version) {
			t.Errorf("the chart deploys %v, want the tag v%s", image, version)
		}
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
