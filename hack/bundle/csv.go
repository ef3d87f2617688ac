package main

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	"github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// What OperatorHub shows and config/ does not say.
const (
	displayName                = "Reliability Operator"
	repoURL                    = "https://github.com/reliability-operator/reliability-operator"
	minKubeVersion             = "1.30.0"
	categories                 = "Monitoring"
	capabilityLevel            = "Basic Install" // installs and configures; upgrades of itself are OLM's replaces chain
	maturity                   = "alpha"
	maintainerName             = "reliability-operator maintainers"
	maintainerEmail            = "maintainers@reliability.dev" // to confirm: the project has published no address yet
	conditionsXDesc            = "urn:alm:descriptor:io.kubernetes.conditions"
	defaultContainerAnnotation = "kubectl.kubernetes.io/default-container"
)

var keywords = []string{
	"reliability", "slo", "sre", "error-budget", "prometheus", "alerting", "grafana",
	"networkpolicy", "poddisruptionbudget", "velero", "backup", "loki", "spot",
}

//go:embed icon.svg
var icon []byte

const (
	// webhookPort is the operator's --webhook-port default (main.go), unless the Deployment's args set it.
	webhookPort = 9443
	// olmCertDir is where OLM mounts the webhook certificate it generates (tls.crt, tls.key); it is also the
	// operator's --webhook-cert-dir default, so the Deployment needs no flag for it.
	olmCertDir = "/tmp/k8s-webhook-server/serving-certs"
	// spotPlacementArg turns the webhook on: the bundle ships the webhook, so the operator must serve it.
	spotPlacementArg = "--spot-placement"
	// noValidatingWebhookArg turns the validating webhook off; it is on by default (main.go).
	noValidatingWebhookArg = "--validating-webhook=false"
)

func clusterServiceVersion(o options, c *config) (*v1alpha1.ClusterServiceVersion, error) {
	v, err := semver.Parse(o.Version)
	if err != nil {
		return nil, err
	}
	deployment, err := installDeployment(o, c)
	if err != nil {
		return nil, err
	}
	webhooks, err := webhookDefinitions(c, deployment)
	if err != nil {
		return nil, err
	}
	examples, err := almExamples(c.samples)
	if err != nil {
		return nil, err
	}
	suggested, err := namespaceTemplate(c)
	if err != nil {
		return nil, err
	}
	description, err := c.readmeIntro()
	if err != nil {
		return nil, err
	}
	short, _, _ := strings.Cut(strings.ReplaceAll(description, "\n", " "), ". ")
	var owned []v1alpha1.CRDDescription
	for i := range c.crds {
		descriptions, err := ownedCRDs(&c.crds[i].crd)
		if err != nil {
			return nil, err
		}
		owned = append(owned, descriptions...)
	}
	serviceAccount := c.namePrefix + c.serviceAccount

	csv := &v1alpha1.ClusterServiceVersion{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.ClusterServiceVersionKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: packageName + ".v" + o.Version,
			// No createdAt: it would change at every regeneration, and the stale check compares bytes.
			Annotations: map[string]string{
				"alm-examples":   examples,
				"capabilities":   capabilityLevel,
				"categories":     categories,
				"containerImage": o.Image,
				"description":    short + ".",
				"repository":     repoURL,
				"operatorframework.io/suggested-namespace":          c.namespace,
				"operatorframework.io/suggested-namespace-template": suggested,
			},
		},
		Spec: v1alpha1.ClusterServiceVersionSpec{
			DisplayName:    displayName,
			Description:    description,
			Version:        version.OperatorVersion{Version: v},
			Maturity:       maturity,
			MinKubeVersion: minKubeVersion,
			Keywords:       keywords,
			Maintainers:    []v1alpha1.Maintainer{{Name: maintainerName, Email: maintainerEmail}},
			Provider:       v1alpha1.AppLink{Name: packageName, URL: repoURL},
			Links:          []v1alpha1.AppLink{{Name: "Source code", URL: repoURL}},
			Icon:           []v1alpha1.Icon{{MediaType: "image/svg+xml", Data: base64.StdEncoding.EncodeToString(icon)}},
			// The operator watches profiles in every namespace and places pods in every namespace.
			InstallModes: []v1alpha1.InstallMode{
				{Type: v1alpha1.InstallModeTypeOwnNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeSingleNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeMultiNamespace, Supported: false},
				{Type: v1alpha1.InstallModeTypeAllNamespaces, Supported: true},
			},
			CustomResourceDefinitions: v1alpha1.CustomResourceDefinitions{Owned: owned},
			InstallStrategy: v1alpha1.NamedInstallStrategy{
				StrategyName: v1alpha1.InstallStrategyNameDeployment,
				StrategySpec: v1alpha1.StrategyDetailsDeployment{
					DeploymentSpecs:    []v1alpha1.StrategyDeploymentSpec{deployment},
					ClusterPermissions: []v1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: serviceAccount, Rules: c.clusterRules}},
					Permissions:        []v1alpha1.StrategyDeploymentPermissions{{ServiceAccountName: serviceAccount, Rules: c.namespacedRules}},
				},
			},
			WebhookDefinitions: webhooks,
			RelatedImages:      []v1alpha1.RelatedImage{{Name: "manager", Image: o.Image}},
		},
	}
	return csv, nil
}

// installDeployment is config/manager's Deployment as OLM runs it: prefixed names, the release image, and the
// spot placement webhook turned on with its port declared.
func installDeployment(o options, c *config) (v1alpha1.StrategyDeploymentSpec, error) {
	d := c.deployment.DeepCopy()
	spec := &d.Spec.Template.Spec
	if spec.ServiceAccountName != c.serviceAccount {
		return v1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: the Deployment runs as %q, config/rbac binds %q", spec.ServiceAccountName, c.serviceAccount)
	}
	spec.ServiceAccountName = c.namePrefix + spec.ServiceAccountName
	ctr, err := managerContainer(d)
	if err != nil {
		return v1alpha1.StrategyDeploymentSpec{}, err
	}
	ctr.Image = o.Image
	// Replicas and memory as config/spot-placement runs the operator: the webhook counts a workload's
	// spot-eligible pods exactly within one process only, and the operator caches every live pod.
	d.Spec.Replicas = ptr.To(c.spotPlacementReplicas)
	memory, err := resource.ParseQuantity(c.spotPlacementMemoryLimit)
	if err != nil {
		return v1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/spot-placement: memory limit: %w", err)
	}
	if ctr.Resources.Limits == nil {
		ctr.Resources.Limits = corev1.ResourceList{}
	}
	ctr.Resources.Limits[corev1.ResourceMemory] = memory
	if !slices.Contains(ctr.Args, spotPlacementArg) {
		ctr.Args = append(ctr.Args, spotPlacementArg)
	}
	// The bundle ships the validating webhook with failurePolicy Fail: an operator that does not serve it
	// would refuse every write of a profile's spec.
	if slices.Contains(ctr.Args, noValidatingWebhookArg) {
		return v1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: %s, but the bundle ships the validating webhook", noValidatingWebhookArg)
	}
	port := int32(webhookPort)
	for _, a := range ctr.Args {
		if p, ok := strings.CutPrefix(a, "--webhook-port="); ok {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil {
				return v1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: %s: %w", a, err)
			}
			port = int32(n)
		}
		if dir, ok := strings.CutPrefix(a, "--webhook-cert-dir="); ok && dir != olmCertDir {
			return v1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: %s: OLM mounts the webhook certificate at %s", a, olmCertDir)
		}
	}
	portName, err := webhookPortName(c)
	if err != nil {
		return v1alpha1.StrategyDeploymentSpec{}, err
	}
	if !slices.ContainsFunc(ctr.Ports, func(p corev1.ContainerPort) bool { return p.Name == portName }) {
		ctr.Ports = append(ctr.Ports, corev1.ContainerPort{Name: portName, ContainerPort: port, Protocol: corev1.ProtocolTCP})
	}
	return v1alpha1.StrategyDeploymentSpec{
		Name:  c.namePrefix + d.Name,
		Spec:  d.Spec,
		Label: c.relabel(d.Labels),
	}, nil
}

// managerContainer is the container kubectl defaults to, or the only one.
func managerContainer(d *appsv1.Deployment) (*corev1.Container, error) {
	cs := d.Spec.Template.Spec.Containers
	name := d.Spec.Template.Annotations[defaultContainerAnnotation]
	for i := range cs {
		if cs[i].Name == name || (name == "" && len(cs) == 1) {
			return &cs[i], nil
		}
	}
	return nil, fmt.Errorf("config/manager: no container %q in Deployment %s", name, d.Name)
}

// webhookPortName is the container port config/webhook/service.yaml targets, by name.
func webhookPortName(c *config) (string, error) {
	for _, p := range c.webhookService.Spec.Ports {
		if p.TargetPort.Type == intstr.String {
			return p.TargetPort.StrVal, nil
		}
	}
	return "", fmt.Errorf("config/webhook: Service %s targets no named port", c.webhookService.Name)
}

// webhookDefinitions turns config/webhook's two webhook configurations into the CSV's webhookdefinitions,
// field by field: the spot placement webhook (manifests.yaml) and the ReliabilityProfile validating webhook
// (validating.yaml). OLM serves each through a Service it creates (<deployment>-service), with a certificate it
// generates, and owns the webhook configurations it makes from them: they are removed with the operator.
//
// Two fields of config/webhook have no place in a WebhookDescription. The namespaceSelector: OLM sets it from
// the OperatorGroup, which selects every namespace for this AllNamespaces operator (kube-system included);
// failurePolicy Ignore and the objectSelector keep the spot placement webhook harmless there. And
// matchConditions: the validating webhook's spec-written condition is lost, so under OLM the API server also
// sends it writes that leave a profile's spec unchanged (finalizers, labels, annotations); the handler
// allows each of them without a review (internal/webhook.ProfileValidation), so a stored profile that a
// newer operator refuses can still lose its finalizers. Under kustomize the condition also keeps a
// failurePolicy Fail webhook of a removed operator from blocking such writes; under OLM no such webhook can
// remain, as OLM removes it with the operator (bundle/README.md).
func webhookDefinitions(c *config, d v1alpha1.StrategyDeploymentSpec) ([]v1alpha1.WebhookDescription, error) {
	ctr, err := managerContainer(&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: d.Name}, Spec: d.Spec})
	if err != nil {
		return nil, err
	}
	portName, err := webhookPortName(c)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ctr.Ports, func(p corev1.ContainerPort) bool { return p.Name == portName })
	if i < 0 {
		return nil, fmt.Errorf("the Deployment has no container port %s for the webhook", portName)
	}
	target := intstr.FromInt32(ctr.Ports[i].ContainerPort)
	// served is the part of a description that says where OLM's Service sends the API server's calls.
	served := func(name string, cc admissionregistrationv1.WebhookClientConfig, kind v1alpha1.WebhookAdmissionType) (v1alpha1.WebhookDescription, error) {
		svc := cc.Service
		if svc == nil || svc.Name != c.webhookService.Name {
			return v1alpha1.WebhookDescription{}, fmt.Errorf("config/webhook: webhook %s is not served by Service %s", name, c.webhookService.Name)
		}
		port := int32(443)
		if svc.Port != nil {
			port = *svc.Port
		}
		return v1alpha1.WebhookDescription{
			GenerateName:   name,
			Type:           kind,
			DeploymentName: d.Name,
			ContainerPort:  port,
			TargetPort:     &target,
			WebhookPath:    svc.Path,
		}, nil
	}

	var out []v1alpha1.WebhookDescription
	for _, w := range c.webhooks.Webhooks {
		desc, err := served(w.Name, w.ClientConfig, v1alpha1.MutatingAdmissionWebhook)
		if err != nil {
			return nil, err
		}
		setCommon(&desc, w.Rules, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds, w.MatchPolicy, w.ObjectSelector, w.AdmissionReviewVersions)
		desc.ReinvocationPolicy = w.ReinvocationPolicy
		out = append(out, desc)
	}
	if len(c.webhooks.Webhooks) == 0 {
		return nil, fmt.Errorf("config/webhook: %s has no webhooks", c.webhooks.Name)
	}
	for _, w := range c.validatingWebhooks.Webhooks {
		desc, err := served(w.Name, w.ClientConfig, v1alpha1.ValidatingAdmissionWebhook)
		if err != nil {
			return nil, err
		}
		setCommon(&desc, w.Rules, w.FailurePolicy, w.SideEffects, w.TimeoutSeconds, w.MatchPolicy, w.ObjectSelector, w.AdmissionReviewVersions)
		out = append(out, desc)
	}
	if len(c.validatingWebhooks.Webhooks) == 0 {
		return nil, fmt.Errorf("config/webhook: %s has no webhooks", c.validatingWebhooks.Name)
	}
	return out, nil
}

// almExamples is the samples as a JSON array, without their namespace: the console creates an example in
// the namespace the user is in.
func almExamples(samples []map[string]any) (string, error) {
	out := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		s = maps.Clone(s)
		if md, ok := s["metadata"].(map[string]any); ok {
			md = maps.Clone(md)
			delete(md, "namespace")
			s["metadata"] = md
		}
		out = append(out, s)
	}
	j, err := json.MarshalIndent(out, "", "  ")
	return string(j), err
}

// namespaceTemplate is config/manager's Namespace, named as `make deploy` names it, for the console to create:
// it enforces the restricted Pod Security Standard the operator runs under.
func namespaceTemplate(c *config) (string, error) {
	ns := corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{Name: c.namespace, Labels: c.relabel(c.namespaceObject.Labels)},
	}
	j, err := marshalJSON(ns)
	return string(j), err
}

// ownedCRDs describes each served version of the CRD, with the top-level spec and status fields and their
// documentation as descriptors.
func ownedCRDs(crd *apiextensionsv1.CustomResourceDefinition) ([]v1alpha1.CRDDescription, error) {
	var out []v1alpha1.CRDDescription
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			return nil, fmt.Errorf("CRD %s %s has no schema", crd.Name, v.Name)
		}
		s := v.Schema.OpenAPIV3Schema
		d := v1alpha1.CRDDescription{
			Name:        crd.Name,
			Version:     v.Name,
			Kind:        crd.Spec.Names.Kind,
			DisplayName: splitCamel(crd.Spec.Names.Kind),
			Description: oneLine(s.Description),
		}
		for _, f := range fields(s.Properties["spec"]) {
			d.SpecDescriptors = append(d.SpecDescriptors, v1alpha1.SpecDescriptor{Path: f.path, DisplayName: f.name, Description: f.description})
		}
		for _, f := range fields(s.Properties["status"]) {
			sd := v1alpha1.StatusDescriptor{Path: f.path, DisplayName: f.name, Description: f.description}
			if f.path == "conditions" {
				sd.XDescriptors = []string{conditionsXDesc}
			}
			d.StatusDescriptors = append(d.StatusDescriptors, sd)
		}
		out = append(out, d)
	}
	return out, nil
}

type field struct{ path, name, description string }

// fields are the top-level properties of s, sorted. A name is the Go field name the description starts with
// ("SLOs are ..."), or the property name split at its capitals.
func fields(s apiextensionsv1.JSONSchemaProps) []field {
	var out []field
	for _, p := range slices.Sorted(maps.Keys(s.Properties)) {
		desc := oneLine(s.Properties[p].Description)
		first, _, _ := strings.Cut(desc, " ")
		first = strings.TrimRight(first, ":,.")
		if !strings.EqualFold(first, p) {
			first = p
		}
		out = append(out, field{path: p, name: splitCamel(first), description: desc})
	}
	return out
}

// splitCamel turns DisasterRecovery into "Disaster Recovery" and keeps SLOs whole.
func splitCamel(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if i == 0 {
			r = unicode.ToUpper(r)
		} else if unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// setCommon copies the fields that mutating and validating webhooks share (their Go types differ) into the
// CSV's description.
func setCommon(desc *v1alpha1.WebhookDescription, rules []admissionregistrationv1.RuleWithOperations, failurePolicy *admissionregistrationv1.FailurePolicyType,
	sideEffects *admissionregistrationv1.SideEffectClass, timeout *int32, matchPolicy *admissionregistrationv1.MatchPolicyType,
	objectSelector *metav1.LabelSelector, reviewVersions []string) {
	desc.Rules = rules
	desc.FailurePolicy = failurePolicy
	desc.SideEffects = sideEffects
	desc.TimeoutSeconds = timeout
	desc.MatchPolicy = matchPolicy
	desc.ObjectSelector = objectSelector
	desc.AdmissionReviewVersions = reviewVersions
}
