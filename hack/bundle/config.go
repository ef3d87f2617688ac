package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// config is what the bundle takes from config/ and README.md, read as the files are, without kustomize.
type config struct {
	// From config/base/kustomization.yaml: what `make deploy` adds to every object.
	namePrefix string
	namespace  string
	labels     map[string]string

	// The CRDs of config/crd, in its kustomization's order.
	crds []crd

	namespaceObject corev1.Namespace
	deployment      appsv1.Deployment
	metricsService  corev1.Service

	serviceAccount string // unprefixed
	// The rules bound to the service account: the CSV's clusterPermissions and permissions.
	clusterRules, namespacedRules []rbacv1.PolicyRule
	// ClusterRoles bound to nobody here (the editor and viewer roles), shipped as bundle manifests.
	unboundClusterRoles []rbacv1.ClusterRole

	webhooks           admissionregistrationv1.MutatingWebhookConfiguration
	validatingWebhooks admissionregistrationv1.ValidatingWebhookConfiguration
	webhookService     corev1.Service

	samples []map[string]any // config/samples and config/policy
	readme  string

	// From config/spot-placement's Deployment patch: how the operator runs with the webhook on.
	spotPlacementReplicas    int32
	spotPlacementMemoryLimit string
}

// crd is one CRD of config/crd.
type crd struct {
	file string // as controller-gen wrote it, copied byte for byte
	crd  apiextensionsv1.CustomResourceDefinition
}

// kustomization holds the fields of a kustomization.yaml the generator reads.
type kustomization struct {
	Namespace  string   `json:"namespace"`
	NamePrefix string   `json:"namePrefix"`
	Resources  []string `json:"resources"`
	Labels     []struct {
		Pairs map[string]string `json:"pairs"`
	} `json:"labels"`
}

func loadConfig(root string) (*config, error) {
	c := &config{labels: map[string]string{}}
	path := func(p ...string) string { return filepath.Join(append([]string{root, "config"}, p...)...) }

	// config/default and config/spot-placement both build on config/base, which names and places everything.
	var def kustomization
	if err := readYAML(path("base", "kustomization.yaml"), &def); err != nil {
		return nil, err
	}
	c.namePrefix, c.namespace = def.NamePrefix, def.Namespace
	if err := c.readSpotPlacementPatch(path("spot-placement", "kustomization.yaml")); err != nil {
		return nil, err
	}
	for _, l := range def.Labels {
		for k, v := range l.Pairs {
			c.labels[k] = v
		}
	}

	if err := c.loadCRDs(path("crd")); err != nil {
		return nil, err
	}
	if err := c.loadRBAC(path("rbac")); err != nil {
		return nil, err
	}
	docs, err := readDocs(path("manager", "manager.yaml"))
	if err != nil {
		return nil, err
	}
	if err := docs.decodeOne("Namespace", &c.namespaceObject); err != nil {
		return nil, err
	}
	if err := docs.decodeOne("Deployment", &c.deployment); err != nil {
		return nil, err
	}
	if err := decodeFile(path("base", "metrics_service.yaml"), "Service", &c.metricsService); err != nil {
		return nil, err
	}
	if err := decodeFile(path("webhook", "manifests.yaml"), "MutatingWebhookConfiguration", &c.webhooks); err != nil {
		return nil, err
	}
	if err := decodeFile(path("webhook", "validating.yaml"), "ValidatingWebhookConfiguration", &c.validatingWebhooks); err != nil {
		return nil, err
	}
	if err := decodeFile(path("webhook", "service.yaml"), "Service", &c.webhookService); err != nil {
		return nil, err
	}
	// The profiles of config/samples, then the cluster's policy of config/policy: an example of each owned kind.
	for _, dir := range []string{path("samples"), path("policy")} {
		if err := c.loadSamples(dir); err != nil {
			return nil, err
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		return nil, err
	}
	c.readme = string(readme)
	return c, nil
}

// loadCRDs reads every resource of config/crd/kustomization.yaml, each a file of one CRD.
func (c *config) loadCRDs(dir string) error {
	var k kustomization
	if err := readYAML(filepath.Join(dir, "kustomization.yaml"), &k); err != nil {
		return err
	}
	if len(k.Resources) == 0 {
		return fmt.Errorf("%s: no CRDs", dir)
	}
	for _, r := range k.Resources {
		file := filepath.Join(dir, r)
		raw, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		d := crd{file: string(raw)}
		if err := decodeFile(file, "CustomResourceDefinition", &d.crd); err != nil {
			return err
		}
		c.crds = append(c.crds, d)
	}
	return nil
}

// loadRBAC sorts config/rbac by what OLM does with it: rules bound to the operator's service account become
// the CSV's permissions (OLM creates the roles and bindings itself); ClusterRoles bound to nobody are for
// users and ship as they are.
func (c *config) loadRBAC(dir string) error {
	var k kustomization
	if err := readYAML(filepath.Join(dir, "kustomization.yaml"), &k); err != nil {
		return err
	}
	var all documents
	for _, r := range k.Resources {
		docs, err := readDocs(filepath.Join(dir, r))
		if err != nil {
			return err
		}
		all = append(all, docs...)
	}
	var sa corev1.ServiceAccount
	if err := all.decodeOne("ServiceAccount", &sa); err != nil {
		return err
	}
	c.serviceAccount = sa.Name

	clusterRoles, roles := map[string]rbacv1.ClusterRole{}, map[string]rbacv1.Role{}
	var clusterBindings []rbacv1.ClusterRoleBinding
	var bindings []rbacv1.RoleBinding
	for _, d := range all {
		var err error
		switch d.kind {
		case "ClusterRole":
			var r rbacv1.ClusterRole
			err = d.decode(&r)
			clusterRoles[r.Name] = r
		case "Role":
			var r rbacv1.Role
			err = d.decode(&r)
			roles[r.Name] = r
		case "ClusterRoleBinding":
			var b rbacv1.ClusterRoleBinding
			err = d.decode(&b)
			clusterBindings = append(clusterBindings, b)
		case "RoleBinding":
			var b rbacv1.RoleBinding
			err = d.decode(&b)
			bindings = append(bindings, b)
		case "ServiceAccount":
		default:
			err = fmt.Errorf("%s: no place in an OLM bundle for a %s", d.file, d.kind)
		}
		if err != nil {
			return err
		}
	}
	bound := map[string]bool{}
	for _, b := range clusterBindings {
		if !bindsServiceAccount(b.Subjects, sa.Name) {
			return fmt.Errorf("ClusterRoleBinding %s binds someone other than the operator", b.Name)
		}
		r, ok := clusterRoles[b.RoleRef.Name]
		if !ok || b.RoleRef.Kind != "ClusterRole" {
			return fmt.Errorf("ClusterRoleBinding %s: no ClusterRole %s in config/rbac", b.Name, b.RoleRef.Name)
		}
		c.clusterRules = append(c.clusterRules, r.Rules...)
		bound[r.Name] = true
	}
	for _, b := range bindings {
		if !bindsServiceAccount(b.Subjects, sa.Name) {
			return fmt.Errorf("RoleBinding %s binds someone other than the operator", b.Name)
		}
		switch b.RoleRef.Kind {
		case "Role":
			r, ok := roles[b.RoleRef.Name]
			if !ok {
				return fmt.Errorf("RoleBinding %s: no Role %s in config/rbac", b.Name, b.RoleRef.Name)
			}
			c.namespacedRules = append(c.namespacedRules, r.Rules...)
			delete(roles, r.Name)
		default:
			r, ok := clusterRoles[b.RoleRef.Name]
			if !ok {
				return fmt.Errorf("RoleBinding %s: no ClusterRole %s in config/rbac", b.Name, b.RoleRef.Name)
			}
			c.namespacedRules = append(c.namespacedRules, r.Rules...)
			bound[r.Name] = true
		}
	}
	if len(roles) > 0 {
		return fmt.Errorf("config/rbac has Roles bound to nobody, which OLM cannot place: %v", roles)
	}
	// In the kustomization's order, which is deterministic.
	for _, d := range all {
		if d.kind != "ClusterRole" {
			continue
		}
		var r rbacv1.ClusterRole
		if err := d.decode(&r); err != nil {
			return err
		}
		if !bound[r.Name] {
			c.unboundClusterRoles = append(c.unboundClusterRoles, r)
		}
	}
	return nil
}

func bindsServiceAccount(subjects []rbacv1.Subject, name string) bool {
	return len(subjects) == 1 && subjects[0].Kind == rbacv1.ServiceAccountKind && subjects[0].Name == name
}

// loadSamples adds the objects of dir in its kustomization.yaml's order, for alm-examples.
func (c *config) loadSamples(dir string) error {
	var k kustomization
	if err := readYAML(filepath.Join(dir, "kustomization.yaml"), &k); err != nil {
		return err
	}
	before := len(c.samples)
	for _, r := range k.Resources {
		docs, err := readDocs(filepath.Join(dir, r))
		if err != nil {
			return err
		}
		for _, d := range docs {
			j, err := yaml.YAMLToJSON(d.raw)
			if err != nil {
				return fmt.Errorf("%s: %w", d.file, err)
			}
			var sample map[string]any
			dec := json.NewDecoder(bytes.NewReader(j))
			dec.UseNumber() // 8080 stays 8080, not 8080.0 or 8.08e+03
			if err := dec.Decode(&sample); err != nil {
				return fmt.Errorf("%s: %w", d.file, err)
			}
			c.samples = append(c.samples, sample)
		}
	}
	if len(c.samples) == before {
		return fmt.Errorf("%s: no samples", dir)
	}
	return nil
}

// readmeIntro returns README.md between its title and its first section, with relative links turned into
// their text (they point into the repository, which the OLM console does not show).
func (c *config) readmeIntro() (string, error) {
	lines := strings.Split(c.readme, "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "# ") }) + 1
	end := len(lines)
	if i := slices.IndexFunc(lines[start:], func(l string) bool { return strings.HasPrefix(l, "## ") }); i >= 0 {
		end = start + i
	}
	intro := strings.TrimSpace(strings.Join(lines[start:end], "\n"))
	if intro == "" {
		return "", errors.New("README.md has no text between its title and its first section")
	}
	return relativeLink.ReplaceAllStringFunc(intro, func(m string) string {
		p := relativeLink.FindStringSubmatch(m)
		if strings.HasPrefix(p[2], "https://") || strings.HasPrefix(p[2], "http://") {
			return m
		}
		return p[1]
	}), nil
}

var relativeLink = regexp.MustCompile(`\[([^\]]+)\]\(([^)]+)\)`)

// A document is one YAML document of a file and its kind.
type document struct {
	file string
	kind string
	raw  []byte
}

type documents []document

func (d document) decode(into any) error {
	if err := yaml.UnmarshalStrict(d.raw, into); err != nil {
		return fmt.Errorf("%s: %s: %w", d.file, d.kind, err)
	}
	return nil
}

// decodeOne decodes the one document of the kind; none or several is an error.
func (ds documents) decodeOne(kind string, into any) error {
	var found []document
	for _, d := range ds {
		if d.kind == kind {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		files := map[string]bool{}
		for _, d := range ds {
			files[d.file] = true
		}
		return fmt.Errorf("want one %s in %v, found %d", kind, keys(files), len(found))
	}
	return found[0].decode(into)
}

func decodeFile(file, kind string, into any) error {
	docs, err := readDocs(file)
	if err != nil {
		return err
	}
	return docs.decodeOne(kind, into)
}

func readDocs(file string) (documents, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := utilyaml.NewYAMLReader(bufio.NewReader(f))
	var docs documents
	for {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if tm.Kind == "" { // comments only, or an empty document after a leading ---
			continue
		}
		docs = append(docs, document{file: file, kind: tm.Kind, raw: raw})
	}
}

// readSpotPlacementPatch reads the replicas and the memory limit that config/spot-placement's JSON patch of
// the Deployment sets, so that OLM runs the operator as `make deploy-spot-placement` does.
func (c *config) readSpotPlacementPatch(file string) error {
	var k struct {
		Patches []struct {
			Target struct{ Kind string }
			Patch  string
		}
	}
	if err := readYAML(file, &k); err != nil {
		return err
	}
	for _, p := range k.Patches {
		if p.Target.Kind != "Deployment" {
			continue
		}
		var ops []struct {
			Op, Path string
			Value    any
		}
		if err := yaml.Unmarshal([]byte(p.Patch), &ops); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		for _, op := range ops {
			switch op.Path {
			case "/spec/replicas":
				n, ok := op.Value.(float64)
				if !ok {
					return fmt.Errorf("%s: /spec/replicas is %v", file, op.Value)
				}
				c.spotPlacementReplicas = int32(n)
			case "/spec/template/spec/containers/0/resources/limits/memory":
				c.spotPlacementMemoryLimit, _ = op.Value.(string)
			}
		}
	}
	if c.spotPlacementReplicas == 0 || c.spotPlacementMemoryLimit == "" {
		return fmt.Errorf("%s: the Deployment patch sets no replicas or memory limit", file)
	}
	return nil
}

func readYAML(file string, into any) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return nil
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
