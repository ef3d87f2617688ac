package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/validate"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

// root is the repository root, from this package's folder; the committed bundle is root/bundle.
const root = "../.."

var committed = filepath.Join(root, "bundle")

func loadCommittedBundle(t *testing.T) *manifests.Bundle {
	t.Helper()
	b, err := manifests.GetBundleFromDir(committed)
	if err != nil {
		t.Fatalf("loading the committed bundle: %v", err)
	}
	return b
}

// The committed bundle is what hack/bundle makes from config/ today, for the version, image and channel the
// bundle declares (so a release made with other flags is not stale), or the defaults when it declares none.
func TestBundleIsUpToDate(t *testing.T) {
	tmp := t.TempDir()
	o := options{
		Channel:    "alpha",
		Root:       root,
		Out:        filepath.Join(tmp, "bundle"),
		Dockerfile: filepath.Join(tmp, "bundle.Dockerfile"),
	}
	var csv v1alpha1.ClusterServiceVersion
	var annotations manifests.AnnotationsFile
	if err := readYAML(filepath.Join(committed, "manifests", packageName+".clusterserviceversion.yaml"), &csv); err != nil {
		t.Logf("generating with the default version and image: %v", err)
	} else {
		o.Version, o.Image = csv.Spec.Version.String(), csv.Annotations["containerImage"]
	}
	if err := readYAML(filepath.Join(committed, "metadata", "annotations.yaml"), &annotations); err != nil {
		t.Logf("generating with the default channel: %v", err)
	} else {
		o.Channel = annotations.Annotations.DefaultChannelName
	}
	if err := generate(o); err != nil {
		t.Fatalf("generating the bundle: %v", err)
	}
	stale := false
	for _, dir := range []string{"manifests", "metadata"} {
		want, got := readTree(t, filepath.Join(o.Out, dir)), readTree(t, filepath.Join(committed, dir))
		for _, name := range slices.Sorted(slices.Values(union(want, got))) {
			path := filepath.Join("bundle", dir, name)
			switch w, g := want[name], got[name]; {
			case g == nil:
				t.Errorf("%s is missing", path)
			case w == nil:
				t.Errorf("%s is not generated any more", path)
			case !bytes.Equal(w, g):
				t.Errorf("%s differs from the generated file: %s", path, firstDifference(w, g))
			default:
				continue
			}
			stale = true
		}
	}
	want, err := os.ReadFile(o.Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	switch got, err := os.ReadFile(filepath.Join(root, "bundle.Dockerfile")); {
	case err != nil:
		t.Errorf("bundle.Dockerfile: %v", err)
		stale = true
	case !bytes.Equal(want, got):
		t.Errorf("bundle.Dockerfile differs from the generated file: %s", firstDifference(want, got))
		stale = true
	}
	if stale {
		t.Error("the committed OLM bundle is stale: run `make bundle` and commit the result")
	}
}

// The committed bundle is of the repository's one version (VERSION), as the chart and the Makefile's IMG
// are: the CSV's version and name, and the tag of the image it deploys.
func TestBundleVersionIsVERSION(t *testing.T) {
	version, err := readVersion(root)
	if err != nil {
		t.Fatal(err)
	}
	csv := loadCommittedBundle(t).CSV
	if got := csv.Spec.Version.String(); got != version {
		t.Errorf("the CSV's version is %s, VERSION is %s: run `make bundle`", got, version)
	}
	if want := packageName + ".v" + version; csv.Name != want {
		t.Errorf("the CSV is %s, want %s", csv.Name, want)
	}
	image := csv.Annotations["containerImage"]
	if !strings.HasSuffix(image, ":v"+version) {
		t.Errorf("the CSV deploys %s, want the tag v%s", image, version)
	}
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Image != image {
				t.Errorf("deployment %s runs %s, the CSV's containerImage is %s", d.Name, c.Image, image)
			}
		}
	}
}

// The bundle ships every CRD that config/crd/bases holds, as controller-gen wrote it, and the CSV owns each of
// its served versions with a description: a CRD left out of config/crd/kustomization.yaml would otherwise
// be missing from the bundle without any generated file going stale.
func TestBundleOwnsEveryCRD(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) < 2 {
		t.Fatalf("config/crd/bases holds %d CRDs (%v), want the profile's and the policy's", len(files), err)
	}
	b := loadCommittedBundle(t)
	owned := b.CSV.Spec.CustomResourceDefinitions.Owned
	for _, f := range files {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := decodeFile(f, "CustomResourceDefinition", &crd); err != nil {
			t.Fatal(err)
		}
		shipped := slices.ContainsFunc(b.V1CRDs, func(c *apiextensionsv1.CustomResourceDefinition) bool {
			return c.Name == crd.Name && equality.Semantic.DeepEqual(c.Spec, crd.Spec)
		})
		if !shipped {
			t.Errorf("bundle/manifests has no CRD %s equal to %s: list it in config/crd/kustomization.yaml and run `make bundle`", crd.Name, filepath.Base(f))
		}
		for _, v := range crd.Spec.Versions {
			if !v.Served {
				continue
			}
			i := slices.IndexFunc(owned, func(d v1alpha1.CRDDescription) bool { return d.Name == crd.Name && d.Version == v.Name })
			switch {
			case i < 0:
				t.Errorf("the CSV does not own %s %s: run `make bundle`", crd.Name, v.Name)
			case owned[i].Kind != crd.Spec.Names.Kind || owned[i].Description == "" || owned[i].DisplayName == "":
				t.Errorf("the CSV owns %s %s as kind %q, display name %q, description %q", crd.Name, v.Name, owned[i].Kind, owned[i].DisplayName, owned[i].Description)
			}
		}
	}
}

// alm-examples holds an example of each kind the CSV owns (config/samples' profiles, config/policy's policy),
// and each is valid under its CRD as the API server would check it at creation (schema and CEL rules): the
// console offers them as they are.
func TestExamplesAreValid(t *testing.T) {
	b := loadCommittedBundle(t)
	// Integral numbers as int64, as the API server decodes a request.
	var examples []map[string]any
	if err := utiljson.Unmarshal([]byte(b.CSV.Annotations["alm-examples"]), &examples); err != nil {
		t.Fatalf("alm-examples: %v", err)
	}
	validators := map[string]*validate.Validator{}
	for _, crd := range b.V1CRDs {
		y, err := yaml.Marshal(crd)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			if validators[crd.Spec.Group+"/"+v.Name+" "+crd.Spec.Names.Kind], err = validate.New(y, v.Name); err != nil {
				t.Fatalf("%s %s: %v", crd.Name, v.Name, err)
			}
		}
	}
	found := map[string]int{}
	for _, e := range examples {
		key := fmt.Sprintf("%v %v", e["apiVersion"], e["kind"])
		v, ok := validators[key]
		if !ok {
			t.Errorf("alm-examples has a %s, which no CRD of the bundle serves", key)
			continue
		}
		found[key]++
		name := fmt.Sprint(e["metadata"].(map[string]any)["name"])
		for _, err := range v.Validate(e) {
			t.Errorf("the example %s %s: %v", key, name, err)
		}
	}
	for _, d := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		group := strings.TrimPrefix(d.Name, strings.SplitN(d.Name, ".", 2)[0]+".")
		if key := group + "/" + d.Version + " " + d.Kind; found[key] == 0 {
			t.Errorf("alm-examples has no %s: add one to config/samples or config/policy and run `make bundle`", key)
		}
	}
}

// The bundle passes the checks OLM runs when it unpacks a bundle, and OperatorHub's. Errors fail, warnings
// are logged.
func TestBundleValidates(t *testing.T) {
	b := loadCommittedBundle(t)
	validators := validation.DefaultBundleValidators.WithValidators(
		validation.OperatorHubV2Validator,
		validation.StandardCapabilitiesValidator,
		validation.StandardCategoriesValidator,
		validation.GoodPracticesValidator,
	)
	// The Kubernetes version the tests run against: the validator reports APIs removed by then as errors.
	objs := append(b.ObjectsToValidate(), map[string]string{"k8s-version": "1.37"})
	checked := 0
	for _, r := range validators.Validate(objs...) {
		checked++
		for _, e := range r.Errors {
			t.Errorf("%s: %v", r.Name, e)
		}
		for _, w := range r.Warnings {
			t.Logf("warning: %s: %v", r.Name, w)
		}
	}
	if checked == 0 {
		t.Fatal("no validator returned a result")
	}
}

// The CSV's webhooks are config/webhook's, field for field (but for the namespaceSelector, which OLM sets from
// the OperatorGroup, and the matchConditions a WebhookDescription cannot hold), the spot placement webhook can
// never stand between a team and its pods, and the operator serves both.
func TestWebhookDefinitionMatchesConfig(t *testing.T) {
	csv := loadCommittedBundle(t).CSV
	var mutating admissionregistrationv1.MutatingWebhookConfiguration
	if err := decodeFile(filepath.Join(root, "config", "webhook", "manifests.yaml"), "MutatingWebhookConfiguration", &mutating); err != nil {
		t.Fatal(err)
	}
	var validating admissionregistrationv1.ValidatingWebhookConfiguration
	if err := decodeFile(filepath.Join(root, "config", "webhook", "validating.yaml"), "ValidatingWebhookConfiguration", &validating); err != nil {
		t.Fatal(err)
	}
	defs := csv.Spec.WebhookDefinitions
	if want := len(mutating.Webhooks) + len(validating.Webhooks); len(defs) != want || want < 2 {
		t.Fatalf("the CSV has %d webhookdefinitions, config/webhook %d webhooks: run `make bundle`", len(defs), want)
	}
	deployments := csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs
	if len(deployments) != 1 {
		t.Fatalf("the CSV has %d deployments, want 1", len(deployments))
	}
	deployment := deployments[0]
	pod := deployment.Spec.Template
	ctr := pod.Spec.Containers[0]
	if r := deployment.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("the operator runs %v replicas; the webhook's count is exact only within one process", r)
	}
	if !slices.Contains(ctr.Args, "--spot-placement") {
		t.Errorf("the operator runs without --spot-placement, so nothing serves the spot placement webhook: %v", ctr.Args)
	}
	if slices.Contains(ctr.Args, "--validating-webhook=false") {
		t.Errorf("the operator runs with --validating-webhook=false, so nothing serves the validating webhook: %v", ctr.Args)
	}
	for _, a := range ctr.Args {
		if dir, ok := strings.CutPrefix(a, "--webhook-cert-dir="); ok && dir != olmCertDir {
			t.Errorf("the operator reads its webhook certificate from %s; OLM mounts it at %s", dir, olmCertDir)
		}
	}

	// definition finds the CSV's description of a config/webhook webhook and returns a comparison of one
	// field of each.
	definition := func(name string, typ v1alpha1.WebhookAdmissionType, file string) (v1alpha1.WebhookDescription, func(string, any, any), bool) {
		i := slices.IndexFunc(defs, func(d v1alpha1.WebhookDescription) bool { return d.GenerateName == name })
		if i < 0 {
			t.Errorf("no webhookdefinition with generateName %s: run `make bundle`", name)
			return v1alpha1.WebhookDescription{}, nil, false
		}
		d := defs[i]
		if d.Type != typ {
			t.Errorf("webhook %s: type %s, want %s", name, d.Type, typ)
		}
		return d, func(field string, csvValue, configValue any) {
			t.Helper()
			if !equality.Semantic.DeepEqual(csvValue, configValue) {
				t.Errorf("webhook %s: %s is %s in the CSV and %s in config/webhook/%s: run `make bundle`",
					name, field, show(csvValue), show(configValue), file)
			}
		}, true
	}
	// servedByOperator: OLM's Service for the webhook selects the deployment's pods and targets the port the
	// operator serves, at the path the operator registers.
	servedByOperator := func(name string, d v1alpha1.WebhookDescription, path string) {
		t.Helper()
		if d.DeploymentName != deployment.Name {
			t.Errorf("webhook %s: deploymentName %s, the CSV's deployment is %s", name, d.DeploymentName, deployment.Name)
		}
		if d.TargetPort == nil || !slices.ContainsFunc(ctr.Ports, func(p corev1.ContainerPort) bool {
			return p.Name == "webhook" && p.ContainerPort == int32(d.TargetPort.IntValue())
		}) {
			t.Errorf("webhook %s: targetPort %s is not the container's port named webhook: %v", name, show(d.TargetPort), ctr.Ports)
		}
		if d.TargetPort != nil && d.TargetPort.IntValue() != webhookPort {
			t.Errorf("webhook %s: targetPort %d, the operator's --webhook-port is %d", name, d.TargetPort.IntValue(), webhookPort)
		}
		if d.WebhookPath == nil || *d.WebhookPath != path {
			t.Errorf("webhook %s: webhookPath %s, the operator serves it at %s", name, show(d.WebhookPath), path)
		}
	}

	for _, w := range mutating.Webhooks {
		d, same, ok := definition(w.Name, v1alpha1.MutatingAdmissionWebhook, "manifests.yaml")
		if !ok {
			continue
		}
		same("rules", d.Rules, w.Rules)
		same("objectSelector", d.ObjectSelector, w.ObjectSelector)
		same("failurePolicy", d.FailurePolicy, w.FailurePolicy)
		same("sideEffects", d.SideEffects, w.SideEffects)
		same("timeoutSeconds", d.TimeoutSeconds, w.TimeoutSeconds)
		same("matchPolicy", d.MatchPolicy, w.MatchPolicy)
		same("reinvocationPolicy", d.ReinvocationPolicy, w.ReinvocationPolicy)
		same("admissionReviewVersions", d.AdmissionReviewVersions, w.AdmissionReviewVersions)
		same("webhookPath", d.WebhookPath, w.ClientConfig.Service.Path)
		same("containerPort", d.ContainerPort, *w.ClientConfig.Service.Port)
		servedByOperator(w.Name, d, webhook.Path)

		// D-6: a webhook that is down or slow must not block pod creation.
		if d.FailurePolicy == nil || *d.FailurePolicy != admissionregistrationv1.Ignore {
			t.Errorf("webhook %s: failurePolicy %s, want Ignore", w.Name, show(d.FailurePolicy))
		}
		if d.SideEffects == nil || *d.SideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("webhook %s: sideEffects %s, want None", w.Name, show(d.SideEffects))
		}
		if d.TimeoutSeconds == nil || *d.TimeoutSeconds > 5 {
			t.Errorf("webhook %s: timeoutSeconds %s, want at most 5", w.Name, show(d.TimeoutSeconds))
		}
		// The operator's own pods are never sent to its webhook: under OLM the namespaceSelector of
		// config/webhook is gone, so the objectSelector is what keeps them out.
		sel, err := metav1.LabelSelectorAsSelector(d.ObjectSelector)
		if err != nil {
			t.Fatal(err)
		}
		if sel.Matches(labels.Set(pod.Labels)) {
			t.Errorf("webhook %s: objectSelector %s selects the operator's own pods (%v)", w.Name, sel, pod.Labels)
		}
	}

	for _, w := range validating.Webhooks {
		d, same, ok := definition(w.Name, v1alpha1.ValidatingAdmissionWebhook, "validating.yaml")
		if !ok {
			continue
		}
		same("rules", d.Rules, w.Rules)
		same("objectSelector", d.ObjectSelector, w.ObjectSelector)
		same("failurePolicy", d.FailurePolicy, w.FailurePolicy)
		same("sideEffects", d.SideEffects, w.SideEffects)
		same("timeoutSeconds", d.TimeoutSeconds, w.TimeoutSeconds)
		same("matchPolicy", d.MatchPolicy, w.MatchPolicy)
		same("admissionReviewVersions", d.AdmissionReviewVersions, w.AdmissionReviewVersions)
		same("webhookPath", d.WebhookPath, w.ClientConfig.Service.Path)
		same("containerPort", d.ContainerPort, *w.ClientConfig.Service.Port)
		// A validating webhook is never reinvoked; OLM would refuse the field on one.
		same("reinvocationPolicy", d.ReinvocationPolicy, (*admissionregistrationv1.ReinvocationPolicyType)(nil))
		servedByOperator(w.Name, d, webhook.ProfileValidationPath)
		// w.MatchConditions has no counterpart in a WebhookDescription; bundle/README.md says what that means.

		// It sees ReliabilityProfiles only, so that its failurePolicy Fail can block nothing else.
		for _, r := range d.Rules {
			if !slices.Equal(r.APIGroups, []string{"reliability.dev"}) || !slices.Equal(r.Resources, []string{"reliabilityprofiles"}) {
				t.Errorf("webhook %s: rule %s reaches beyond ReliabilityProfiles", w.Name, show(r))
			}
		}
		if d.SideEffects == nil || *d.SideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("webhook %s: sideEffects %s, want None", w.Name, show(d.SideEffects))
		}
	}

	for _, p := range append(csv.Spec.InstallStrategy.StrategySpec.Permissions, csv.Spec.InstallStrategy.StrategySpec.ClusterPermissions...) {
		if p.ServiceAccountName != deployment.Spec.Template.Spec.ServiceAccountName {
			t.Errorf("permissions for %s, but the operator runs as %s", p.ServiceAccountName, deployment.Spec.Template.Spec.ServiceAccountName)
		}
	}
}

func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func union(a, b map[string][]byte) []string {
	names := keys(a)
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	return names
}

// firstDifference names the first line where got (committed) differs from want (generated).
func firstDifference(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d is %q, generated %q", i+1, gl, wl)
		}
	}
	return "same lines, different bytes"
}

func show(v any) string {
	j, err := marshalJSON(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(j)
}
