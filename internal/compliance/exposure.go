package compliance

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// Cluster is what the controller gathered of the profile's namespace for S-2 and S-3, from its cache:
// Services, Ingresses, Gateway API routes and the workloads (with their env as the cache keeps it: names,
// and whether a value is written literally, never the value). Nil when it was not gathered.
type Cluster struct {
	Services  []corev1.Service
	Ingresses []networkingv1.Ingress
	// Routes are the Gateway API routes, of any namespace, with a backend in the profile's namespace.
	// RouteKinds are the kinds of RouteTypes that were read: those the cluster serves, none when the Gateway
	// API is not installed.
	Routes     []Route
	RouteKinds []string
	Workloads  []Workload
}

// Workload is a Deployment, StatefulSet or DaemonSet, or anything else with a pod template.
type Workload struct {
	Kind, Name string
	Template   corev1.PodTemplateSpec
}

// reaches tells whether a Service's selector can select the profile's pods: it has a selector, and no
// label it asks for contradicts the profile's matchLabels. The pods themselves are not read, so a Service
// whose selector names labels the profile does not is counted as reaching them (the safe side for S-2).
func reaches(svc corev1.Service, rp *v1alpha1.ReliabilityProfile) bool {
	if len(svc.Spec.Selector) == 0 {
		return false // endpoints kept by hand: nothing to compare
	}
	for k, v := range svc.Spec.Selector {
		if want, ok := rp.Spec.Selector.MatchLabels[k]; ok && want != v {
			return false
		}
	}
	return true
}

// exposures lists what makes the service reachable from outside the cluster: LoadBalancer and NodePort
// Services that reach its pods, and Ingresses and attached Gateway API routes with one of the Services that
// reach them as a backend.
func exposures(c *Cluster, rp *v1alpha1.ReliabilityProfile) []string {
	var out []string
	reaching := map[string]bool{}
	for _, svc := range c.Services {
		if !reaches(svc, rp) {
			continue
		}
		reaching[svc.Name] = true
		if svc.Spec.Type == corev1.ServiceTypeLoadBalancer || svc.Spec.Type == corev1.ServiceTypeNodePort {
			out = append(out, fmt.Sprintf("Service/%s (%s)", svc.Name, svc.Spec.Type))
		}
	}
	for _, ing := range c.Ingresses {
		for _, name := range ingressBackends(ing) {
			if reaching[name] {
				out = append(out, fmt.Sprintf("Ingress/%s (to Service/%s)", ing.Name, name))
				break
			}
		}
	}
	for _, route := range c.Routes {
		if found, ok := routeExposure(route, rp.Namespace, reaching); ok {
			out = append(out, found)
		}
	}
	sort.Strings(out)
	return out
}

// routeExposure describes a route that is attached to a Gateway (or another parent that is not a mesh
// Service) and sends traffic to a Service of the profile's namespace that reaches its pods, such as
// "HTTPRoute/shop (via Gateway infra/public, to Service/checkout)". A route of another namespace counts
// whether or not a ReferenceGrant of the profile's namespace allows it, and says so: the grant is not read,
// and the route says what its author wants exposed (the safe side for S-2).
func routeExposure(route Route, namespace string, reaching map[string]bool) (string, bool) {
	parents := route.parents()
	if len(parents) == 0 {
		return "", false
	}
	var services []string
	for _, b := range route.BackendRefs {
		ns, name, ok := route.service(b)
		if id := "Service/" + name; ok && ns == namespace && reaching[name] && !slices.Contains(services, id) {
			services = append(services, id)
		}
	}
	if len(services) == 0 {
		return "", false
	}
	id, grant := route.Kind+"/"+route.Name, ""
	if route.Namespace != namespace {
		id += " of namespace " + route.Namespace
		grant = " if a ReferenceGrant allows it"
	}
	return fmt.Sprintf("%s (via %s, to %s%s)", id, strings.Join(parents, " and "), strings.Join(services, " and "), grant), true
}

// notExposedMessage is S-2's pass when nothing exposes the service, naming what was looked at.
func notExposedMessage(c *Cluster) string {
	if len(c.RouteKinds) == 0 {
		return fmt.Sprintf("No LoadBalancer or NodePort Service and no Ingress reaches the service's pods. Gateway API routes were not checked: the Gateway API is not installed (the cluster serves no route kind of %s).", gatewayv1.SchemeGroupVersion)
	}
	msg := fmt.Sprintf("No LoadBalancer or NodePort Service, no Ingress and no %s attached to a Gateway reaches the service's pods.", orList(c.RouteKinds))
	var unserved []string
	for _, t := range RouteTypes() {
		if kind := t.GetObjectKind().GroupVersionKind().Kind; !slices.Contains(c.RouteKinds, kind) {
			unserved = append(unserved, kind)
		}
	}
	if len(unserved) > 0 {
		msg += fmt.Sprintf(" Not checked, the cluster does not serve them at %s: %s.", gatewayv1.SchemeGroupVersion, strings.Join(unserved, ", "))
	}
	return msg
}

// orList joins words as "a, b or c".
func orList(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func ingressBackends(ing networkingv1.Ingress) []string {
	var names []string
	if b := ing.Spec.DefaultBackend; b != nil && b.Service != nil {
		names = append(names, b.Service.Name)
	}
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, p := range rule.HTTP.Paths {
			if p.Backend.Service != nil {
				names = append(names, p.Backend.Service.Name)
			}
		}
	}
	return names
}

// S-2: nothing faces the public internet unless the profile says it must, and why.
func checkExposure(s Snapshot) Verdict {
	if s.Cluster == nil {
		return unknown("The namespace's Services, Ingresses and Gateway API routes were not read.")
	}
	found := exposures(s.Cluster, s.Profile)
	switch {
	case len(found) == 0:
		return pass("%s", notExposedMessage(s.Cluster))
	case s.Profile.Spec.Public != nil:
		return pass("Public as declared (%s): %s.", s.Profile.Spec.Public.Reason, strings.Join(found, ", "))
	}
	return fail("Exposed outside the cluster by %s, and the profile does not declare the service public (spec.public.reason).",
		strings.Join(found, ", "))
}

// secretLooking tells whether an environment variable's name suggests a secret: *PASSWORD*, *PASSWD*,
// *TOKEN*, *SECRET*, *_KEY and *APIKEY*. Names of references to secrets (*_FILE, *_PATH, *_NAME, *_REF) are
// not.
func secretLooking(name string) bool {
	n := strings.ToUpper(name)
	for _, ref := range []string{"_FILE", "_PATH", "_NAME", "_REF"} {
		if strings.HasSuffix(n, ref) {
			return false
		}
	}
	for _, word := range []string{"PASSWORD", "PASSWD", "TOKEN", "SECRET", "APIKEY"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return strings.HasSuffix(n, "_KEY") || n == "KEY"
}

// literalSecrets lists "Kind/name container VAR" for each secret-looking variable with a literal value.
func literalSecrets(w Workload) []string {
	var out []string
	spec := w.Template.Spec
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		for _, e := range c.Env {
			if e.Value != "" && e.ValueFrom == nil && secretLooking(e.Name) {
				out = append(out, fmt.Sprintf("%s/%s container %s: %s", w.Kind, w.Name, c.Name, e.Name))
			}
		}
	}
	return out
}

// S-3: secrets come from a secret store (a Secret, an external secrets operator, a CSI volume), not written
// into the manifests: a secret-looking variable with a literal value fails, named, never its value.
func checkSecrets(s Snapshot) Verdict {
	if s.Cluster == nil {
		return unknown("The namespace's workloads were not read.")
	}
	selector := labels.SelectorFromSet(s.Profile.Spec.Selector.MatchLabels)
	var checked []string
	var found []string
	for _, w := range s.Cluster.Workloads {
		if len(s.Profile.Spec.Selector.MatchLabels) == 0 || !selector.Matches(labels.Set(w.Template.Labels)) {
			continue
		}
		checked = append(checked, w.Kind+"/"+w.Name)
		found = append(found, literalSecrets(w)...)
	}
	switch {
	case len(checked) == 0:
		return unknown("No Deployment, StatefulSet or DaemonSet of the namespace has pods the selector matches.")
	case len(found) > 0:
		sort.Strings(found)
		return fail("Secret-looking variables with literal values (use valueFrom with a Secret): %s.", strings.Join(found, "; "))
	}
	sort.Strings(checked)
	return pass("No secret-looking variable with a literal value in %s.", strings.Join(checked, ", "))
}

// metricsPortInCluster judges O-7 on the namespace: the workloads whose pods the selector matches declare
// the container port, and a Service that reaches the pods exposes it, so the ServiceMonitor's endpoints
// have it to scrape.
func metricsPortInCluster(c *Cluster, rp *v1alpha1.ReliabilityProfile, port int32) Verdict {
	selector := labels.SelectorFromSet(rp.Spec.Selector.MatchLabels)
	var workloads, undeclared []string
	names := map[string]bool{} // names of the container ports that are the metrics port
	for _, w := range c.Workloads {
		if len(rp.Spec.Selector.MatchLabels) == 0 || !selector.Matches(labels.Set(w.Template.Labels)) {
			continue
		}
		id := w.Kind + "/" + w.Name
		workloads = append(workloads, id)
		declared := false
		for _, ctr := range w.Template.Spec.Containers {
			for _, p := range ctr.Ports {
				if p.ContainerPort == port {
					declared = true
					if p.Name != "" {
						names[p.Name] = true
					}
				}
			}
		}
		if !declared {
			undeclared = append(undeclared, id)
		}
	}
	if len(undeclared) > 0 {
		return fail("%s declares no container port %d.", strings.Join(undeclared, ", "), port)
	}
	var exposing []string
	for _, svc := range c.Services {
		if !reaches(svc, rp) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			target := p.TargetPort
			// A named target port resolves through the containers' port names; with no workload to read them
			// from, a name is given the benefit of the doubt.
			named := target.Type == intstr.String && (names[target.StrVal] || len(workloads) == 0)
			if target.IntValue() == int(port) || named || (target.IntValue() == 0 && target.StrVal == "" && p.Port == port) {
				exposing = append(exposing, "Service/"+svc.Name)
				break
			}
		}
	}
	if len(exposing) == 0 {
		return fail("No Service that reaches the pods has a port to container port %d, so the ServiceMonitor finds nothing to scrape.", port)
	}
	if len(workloads) == 0 {
		return pass("%s exposes port %d (no Deployment, StatefulSet or DaemonSet of the namespace to check the pods' ports).", strings.Join(exposing, ", "), port)
	}
	return pass("%s declare port %d, exposed by %s.", strings.Join(workloads, ", "), port, strings.Join(exposing, ", "))
}
