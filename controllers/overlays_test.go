package controllers_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
	"github.com/reliability-operator/reliability-operator/internal/webhook"
)

// kustomizeBuild builds a config/ overlay with the pinned kustomize that `make test` provides.
func kustomizeBuild(t *testing.T, overlay string) []unstructured.Unstructured {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join(testenv.RepoRoot(), "bin", "kustomize-v5.8.2")
	}
	out, err := exec.Command(bin, "build", filepath.Join(testenv.RepoRoot(), "config", overlay)).Output()
	if err != nil {
		t.Fatalf("kustomize build config/%s (run through `make test`, which builds kustomize): %v", overlay, err)
	}
	var objs []unstructured.Unstructured
	for _, doc := range bytes.Split(out, []byte("\n---\n")) {
		u := unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, u)
	}
	if len(objs) < 10 {
		t.Fatalf("kustomize build config/%s gave %d objects", overlay, len(objs))
	}
	return objs
}

func findKind(t *testing.T, objs []unstructured.Unstructured, kind, nameSuffix string, into any) {
	t.Helper()
	if !lookUp(t, objs, kind, nameSuffix, into) {
		t.Fatalf("no %s *%s", kind, nameSuffix)
	}
}

// lookUp decodes the object of the kind whose name ends in nameSuffix into into, and says whether there was one.
func lookUp(t *testing.T, objs []unstructured.Unstructured, kind, nameSuffix string, into any) bool {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), nameSuffix) {
			b, _ := yaml.Marshal(o.Object)
			if err := yaml.Unmarshal(b, into); err != nil {
				t.Fatal(err)
			}
			return true
		}
	}
	return false
}

type certificate struct {
	Metadata struct{ Name, Namespace string }
	Spec     struct {
		DNSNames   []string `json:"dnsNames"`
		SecretName string   `json:"secretName"`
		IsCA       bool     `json:"isCA"`
		IssuerRef  struct{ Name string }
	}
}

// webhookServer is what an overlay deploys to serve the operator's webhooks: one Service, one Deployment, one
// serving certificate, whichever webhook configurations point at them.
type webhookServer struct {
	svc  corev1.Service
	dep  appsv1.Deployment
	cert certificate
}

const webhookCertDir = "/tmp/k8s-webhook-server/serving-certs" // the operator's --webhook-cert-dir default

// checkWebhookServer checks that the overlay's pieces name each other: a certificate for another host name,
// a Secret that is not mounted or a port the NetworkPolicy closes would each leave the webhooks unreachable.
// Then the validating webhook (failurePolicy Fail) refuses every profile, and the spot placement webhook
// (Ignore) admits pods unplaced without an error anywhere.
func checkWebhookServer(t *testing.T, objs []unstructured.Unstructured) webhookServer {
	t.Helper()
	var s webhookServer
	var ca certificate
	var caIssuer struct {
		Spec struct{ CA *struct{ SecretName string } }
	}
	findKind(t, objs, "Service", "webhook-service", &s.svc)
	findKind(t, objs, "Deployment", "controller-manager", &s.dep)
	findKind(t, objs, "Certificate", "serving-cert", &s.cert)
	findKind(t, objs, "Certificate", "webhook-ca", &ca)
	findKind(t, objs, "Issuer", s.cert.Spec.IssuerRef.Name, &caIssuer)
	// The serving certificate is signed by a CA of its own, so its renewal does not change the caBundle.
	if caIssuer.Spec.CA == nil || caIssuer.Spec.CA.SecretName != ca.Spec.SecretName || !ca.Spec.IsCA {
		t.Errorf("the serving certificate's issuer %s is not the CA issuer of the webhook CA", s.cert.Spec.IssuerRef.Name)
	}
	if host := s.svc.Name + "." + s.svc.Namespace + ".svc"; !slices.Contains(s.cert.Spec.DNSNames, host) {
		t.Errorf("the certificate is for %v, not %s", s.cert.Spec.DNSNames, host)
	}

	c := s.dep.Spec.Template.Spec.Containers[0]
	var mountedSecret string
	for _, v := range s.dep.Spec.Template.Spec.Volumes {
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name && m.MountPath == webhookCertDir && v.Secret != nil {
				mountedSecret = v.Secret.SecretName
			}
		}
	}
	if mountedSecret != s.cert.Spec.SecretName {
		t.Errorf("the webhook's cert dir holds Secret %q, the Certificate writes %q", mountedSecret, s.cert.Spec.SecretName)
	}
	for _, a := range c.Args {
		if dir, ok := strings.CutPrefix(a, "--webhook-cert-dir="); ok && dir != webhookCertDir {
			t.Errorf("the operator reads its certificate from %s, the Secret is mounted at %s", dir, webhookCertDir)
		}
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == s.svc.Spec.Ports[0].TargetPort.String() {
			port = p.ContainerPort
		}
	}
	if port != 9443 {
		t.Errorf("the Service targets port %q, which is container port %d, not the webhook server's 9443", s.svc.Spec.Ports[0].TargetPort.String(), port)
	}
	if sel := s.svc.Spec.Selector; len(sel) == 0 || !equality.Semantic.DeepEqual(sel, s.dep.Spec.Selector.MatchLabels) {
		t.Errorf("the webhook Service selects %v, the operator's pods are %v", sel, s.dep.Spec.Selector.MatchLabels)
	}

	var open bool
	for _, o := range objs {
		if o.GetKind() != "NetworkPolicy" {
			continue
		}
		var np networkingv1.NetworkPolicy
		b, _ := yaml.Marshal(o.Object)
		_ = yaml.Unmarshal(b, &np)
		if !equality.Semantic.DeepEqual(np.Spec.PodSelector.MatchLabels, s.dep.Spec.Selector.MatchLabels) {
			continue
		}
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == 9443 && len(rule.From) == 0 {
					open = true
				}
			}
		}
	}
	if !open {
		t.Error("no NetworkPolicy of the operator's pods lets the API server reach port 9443")
	}
	return s
}

// checkServedBy checks that a webhook configuration calls the overlay's Service at path, and trusts the CA
// of the Certificate that the mounted Secret holds.
func (s webhookServer) checkServedBy(t *testing.T, kind, name string, annotations map[string]string, hooks []admissionv1.WebhookClientConfig, path string) {
	t.Helper()
	if len(hooks) == 0 {
		t.Errorf("%s %s has no webhooks", kind, name)
	}
	for _, cc := range hooks {
		ref := cc.Service
		if ref == nil {
			t.Errorf("%s %s calls %v, not a Service", kind, name, cc.URL)
			continue
		}
		if ref.Name != s.svc.Name || ref.Namespace != s.svc.Namespace {
			t.Errorf("%s %s calls %s/%s, the Service is %s/%s", kind, name, ref.Namespace, ref.Name, s.svc.Namespace, s.svc.Name)
		}
		if ref.Port == nil || *ref.Port != s.svc.Spec.Ports[0].Port {
			t.Errorf("%s %s calls port %v, the Service serves %d", kind, name, ref.Port, s.svc.Spec.Ports[0].Port)
		}
		if ref.Path == nil || *ref.Path != path {
			t.Errorf("%s %s calls path %v, the operator serves it at %s", kind, name, ref.Path, path)
		}
	}
	if got, want := annotations["cert-manager.io/inject-ca-from"], s.cert.Metadata.Namespace+"/"+s.cert.Metadata.Name; got != want {
		t.Errorf("%s %s: CA injected from %q, want %q", kind, name, got, want)
	}
}

// validatingWebhook finds the overlay's ValidatingWebhookConfiguration, checks it is config/webhook/validating.yaml
// but for the Service's final name (kustomize must not change what it admits), and checks its wiring.
func checkValidatingWebhook(t *testing.T, objs []unstructured.Unstructured, s webhookServer) {
	t.Helper()
	var hook admissionv1.ValidatingWebhookConfiguration
	findKind(t, objs, "ValidatingWebhookConfiguration", "profile-validation", &hook)
	var clients []admissionv1.WebhookClientConfig
	for _, w := range hook.Webhooks {
		clients = append(clients, w.ClientConfig)
	}
	s.checkServedBy(t, "ValidatingWebhookConfiguration", hook.Name, hook.Annotations, clients, webhook.ProfileValidationPath)

	raw, err := os.ReadFile(testenv.ValidatingWebhookManifests())
	if err != nil {
		t.Fatal(err)
	}
	var source admissionv1.ValidatingWebhookConfiguration
	if err := yaml.UnmarshalStrict(raw, &source); err != nil {
		t.Fatal(err)
	}
	want := source.DeepCopy().Webhooks
	for i := range want {
		want[i].ClientConfig.Service.Name, want[i].ClientConfig.Service.Namespace = s.svc.Name, s.svc.Namespace
	}
	if !equality.Semantic.DeepEqual(hook.Webhooks, want) {
		t.Errorf("the deployed validating webhooks differ from config/webhook/validating.yaml:\n%s\nwant\n%s", show(t, hook.Webhooks), show(t, want))
	}
	for _, w := range hook.Webhooks {
		if len(w.MatchConditions) == 0 {
			t.Errorf("webhook %s has no matchCondition: with failurePolicy Fail an outage would block finalizer and status writes too", w.Name)
		}
	}
}

func show(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// config/default (`make deploy`) serves the ReliabilityProfile validating webhook, and only that one: the
// spot placement configuration would send every pod creation to a path nothing serves.
func TestTheDefaultOverlayConnectsTheAPIServerToTheValidatingWebhook(t *testing.T) {
	objs := kustomizeBuild(t, "default")
	s := checkWebhookServer(t, objs)
	checkValidatingWebhook(t, objs, s)
	if lookUp(t, objs, "MutatingWebhookConfiguration", "", &admissionv1.MutatingWebhookConfiguration{}) {
		t.Error("config/default deploys a MutatingWebhookConfiguration, but the operator runs without --spot-placement")
	}
	args := s.dep.Spec.Template.Spec.Containers[0].Args
	if slices.Contains(args, "--spot-placement") {
		t.Errorf("config/default turns spot placement on: %v", args)
	}
	if slices.Contains(args, "--validating-webhook=false") {
		t.Errorf("config/default deploys the validating webhook, but the operator does not serve it: %v", args)
	}
}

// config/spot-placement is config/default plus the spot placement webhook, served by the same Service and
// certificate, and one replica.
func TestTheSpotPlacementOverlayConnectsTheAPIServerToBothWebhooks(t *testing.T) {
	objs := kustomizeBuild(t, "spot-placement")
	s := checkWebhookServer(t, objs)
	checkValidatingWebhook(t, objs, s)

	var hook admissionv1.MutatingWebhookConfiguration
	findKind(t, objs, "MutatingWebhookConfiguration", "spot-placement", &hook)
	var clients []admissionv1.WebhookClientConfig
	for _, w := range hook.Webhooks {
		clients = append(clients, w.ClientConfig)
	}
	s.checkServedBy(t, "MutatingWebhookConfiguration", hook.Name, hook.Annotations, clients, webhook.Path)

	if r := s.dep.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("the operator runs %v replicas; the webhook's count is exact only within one process", r)
	}
	if args := s.dep.Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--spot-placement") {
		t.Errorf("the operator runs without --spot-placement: %v", args)
	}
	if s.dep.Spec.Template.Labels["reliability.dev/webhook"] != "ignore" {
		t.Error("the operator's pods do not opt out of their own webhook")
	}

	// Everything config/default deploys is here too, so that switching overlays removes nothing.
	have := map[string]bool{}
	for _, o := range objs {
		have[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = true
	}
	for _, o := range kustomizeBuild(t, "default") {
		if id := o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName(); !have[id] {
			t.Errorf("config/default deploys %s, config/spot-placement does not", id)
		}
	}
}
