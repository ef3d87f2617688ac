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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/reliability-operator/reliability-operator/internal/testenv"
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
	return objs
}

func findKind(t *testing.T, objs []unstructured.Unstructured, kind, nameSuffix string, into any) {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && strings.HasSuffix(o.GetName(), nameSuffix) {
			b, _ := yaml.Marshal(o.Object)
			if err := yaml.Unmarshal(b, into); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no %s *%s", kind, nameSuffix)
}

// The overlay's pieces must name each other: a certificate for another host name, a CA injected from
// another Certificate, a Secret that is not mounted or a port the NetworkPolicy closes would each leave the
// webhook unreachable, and with failurePolicy Ignore nobody would notice.
func TestTheSpotPlacementOverlayConnectsTheAPIServerToTheWebhook(t *testing.T) {
	objs := kustomizeBuild(t, "spot-placement")
	var hook admissionv1.MutatingWebhookConfiguration
	var svc corev1.Service
	var dep appsv1.Deployment
	type certificate struct {
		Metadata struct{ Name, Namespace string }
		Spec     struct {
			DNSNames   []string `json:"dnsNames"`
			SecretName string   `json:"secretName"`
			IsCA       bool     `json:"isCA"`
			IssuerRef  struct{ Name string }
		}
	}
	var cert, ca certificate
	var caIssuer struct {
		Spec struct{ CA *struct{ SecretName string } }
	}
	findKind(t, objs, "MutatingWebhookConfiguration", "spot-placement", &hook)
	findKind(t, objs, "Service", "webhook-service", &svc)
	findKind(t, objs, "Deployment", "controller-manager", &dep)
	findKind(t, objs, "Certificate", "serving-cert", &cert)
	findKind(t, objs, "Certificate", "webhook-ca", &ca)
	findKind(t, objs, "Issuer", cert.Spec.IssuerRef.Name, &caIssuer)
	// The serving certificate is signed by a CA of its own, so its renewal does not change the caBundle.
	if caIssuer.Spec.CA == nil || caIssuer.Spec.CA.SecretName != ca.Spec.SecretName || !ca.Spec.IsCA {
		t.Errorf("the serving certificate's issuer %s is not the CA issuer of the webhook CA", cert.Spec.IssuerRef.Name)
	}

	ref := hook.Webhooks[0].ClientConfig.Service
	if ref.Name != svc.Name || ref.Namespace != svc.Namespace {
		t.Errorf("the webhook calls %s/%s, the Service is %s/%s", ref.Namespace, ref.Name, svc.Namespace, svc.Name)
	}
	if host := svc.Name + "." + svc.Namespace + ".svc"; !slices.Contains(cert.Spec.DNSNames, host) {
		t.Errorf("the certificate is for %v, not %s", cert.Spec.DNSNames, host)
	}
	if got, want := hook.Annotations["cert-manager.io/inject-ca-from"], cert.Metadata.Namespace+"/"+cert.Metadata.Name; got != want {
		t.Errorf("CA injected from %q, want %q", got, want)
	}
	if r := dep.Spec.Replicas; r == nil || *r != 1 {
		t.Errorf("the operator runs %v replicas; the webhook's count is exact only within one process", r)
	}
	c := dep.Spec.Template.Spec.Containers[0]
	if !slices.Contains(c.Args, "--spot-placement") {
		t.Errorf("the operator runs without --spot-placement: %v", c.Args)
	}
	var mountedSecret string
	for _, v := range dep.Spec.Template.Spec.Volumes {
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name && m.MountPath == "/tmp/k8s-webhook-server/serving-certs" && v.Secret != nil {
				mountedSecret = v.Secret.SecretName
			}
		}
	}
	if mountedSecret != cert.Spec.SecretName {
		t.Errorf("the webhook's cert dir holds Secret %q, the Certificate writes %q", mountedSecret, cert.Spec.SecretName)
	}
	var port int32
	for _, p := range c.Ports {
		if p.Name == svc.Spec.Ports[0].TargetPort.String() {
			port = p.ContainerPort
		}
	}
	if port != 9443 {
		t.Errorf("the Service targets port %q, which is container port %d, not the webhook server's 9443", svc.Spec.Ports[0].TargetPort.String(), port)
	}
	if dep.Spec.Template.Labels["reliability.dev/webhook"] != "ignore" {
		t.Error("the operator's pods do not opt out of their own webhook")
	}
	var open bool
	for _, o := range objs {
		if o.GetKind() != "NetworkPolicy" {
			continue
		}
		var np networkingv1.NetworkPolicy
		b, _ := yaml.Marshal(o.Object)
		_ = yaml.Unmarshal(b, &np)
		for _, rule := range np.Spec.Ingress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntValue() == 9443 && len(rule.From) == 0 {
					open = true
				}
			}
		}
	}
	if !open {
		t.Error("no NetworkPolicy lets the API server reach port 9443")
	}
}
