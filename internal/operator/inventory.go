package operator

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// inventoryCache is how the cache keeps the objects compliance reads (S-2, S-3): only the fields the checks
// need, so that the cluster's Services, Ingresses, Gateway API routes and workloads cost little memory, and
// never the value of an environment variable: a literal value is kept as "*", which says that one is
// written there. Routes are cached only of the kinds the cluster serves (gatewayRoutes).
func inventoryCache(gatewayRoutes []client.Object) map[client.Object]cache.ByObject {
	byObject := map[client.Object]cache.ByObject{
		&corev1.Service{}:       {Transform: serviceExposureFields},
		&networkingv1.Ingress{}: {Transform: ingressBackendFields},
		&appsv1.Deployment{}:    {Transform: workloadTemplateFields},
		&appsv1.StatefulSet{}:   {Transform: workloadTemplateFields},
		&appsv1.DaemonSet{}:     {Transform: workloadTemplateFields},
	}
	for _, route := range gatewayRoutes {
		byObject[route] = cache.ByObject{Transform: routeAttachmentFields}
	}
	return byObject
}

// profileWithoutManagedFields is how the cache keeps profiles: without their managedFields, which nothing
// of the operator reads of a profile (the applier reads its children's), and which are about a third of a
// stored profile.
func profileWithoutManagedFields(obj any) (any, error) {
	if rp, ok := obj.(*v1alpha1.ReliabilityProfile); ok {
		rp.ManagedFields = nil
	}
	return obj, nil
}

// childWithoutFieldSets is how the cache keeps the operator's children: their managedFields keep who wrote
// them, how and when (what drift reports name), without the sets of fields each manager owns, which are
// about as large as the spec. The one reader of those sets, the hand-over of a child created by an earlier
// version of the operator, reads the child past the cache.
func childWithoutFieldSets(obj any) (any, error) {
	o, ok := obj.(client.Object)
	if !ok {
		return obj, nil
	}
	entries := o.GetManagedFields()
	for i := range entries {
		entries[i].FieldsV1 = nil
	}
	o.SetManagedFields(entries)
	return obj, nil
}

func inventoryMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, DeletionTimestamp: m.DeletionTimestamp}
}

func serviceExposureFields(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	return &corev1.Service{TypeMeta: s.TypeMeta, ObjectMeta: inventoryMeta(s.ObjectMeta),
		Spec: corev1.ServiceSpec{Type: s.Spec.Type, Selector: s.Spec.Selector, Ports: servicePorts(s.Spec.Ports)}}, nil
}

func servicePorts(ports []corev1.ServicePort) []corev1.ServicePort {
	out := make([]corev1.ServicePort, 0, len(ports))
	for _, p := range ports {
		out = append(out, corev1.ServicePort{Name: p.Name, Port: p.Port, TargetPort: p.TargetPort})
	}
	return out
}

func ingressBackendFields(obj any) (any, error) {
	i, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return obj, nil
	}
	spec := networkingv1.IngressSpec{DefaultBackend: i.Spec.DefaultBackend}
	for _, rule := range i.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		kept := networkingv1.IngressRule{IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
		for _, p := range rule.HTTP.Paths {
			kept.HTTP.Paths = append(kept.HTTP.Paths, networkingv1.HTTPIngressPath{Backend: p.Backend})
		}
		spec.Rules = append(spec.Rules, kept)
	}
	return &networkingv1.Ingress{TypeMeta: i.TypeMeta, ObjectMeta: inventoryMeta(i.ObjectMeta), Spec: spec}, nil
}

// workloadTemplateFields keeps a workload's pod template labels and its containers' env names.
func workloadTemplateFields(obj any) (any, error) {
	switch w := obj.(type) {
	case *appsv1.Deployment:
		return &appsv1.Deployment{TypeMeta: w.TypeMeta, ObjectMeta: inventoryMeta(w.ObjectMeta),
			Spec: appsv1.DeploymentSpec{Template: templateEnv(w.Spec.Template)}}, nil
	case *appsv1.StatefulSet:
		return &appsv1.StatefulSet{TypeMeta: w.TypeMeta, ObjectMeta: inventoryMeta(w.ObjectMeta),
			Spec: appsv1.StatefulSetSpec{Template: templateEnv(w.Spec.Template)}}, nil
	case *appsv1.DaemonSet:
		return &appsv1.DaemonSet{TypeMeta: w.TypeMeta, ObjectMeta: inventoryMeta(w.ObjectMeta),
			Spec: appsv1.DaemonSetSpec{Template: templateEnv(w.Spec.Template)}}, nil
	}
	return obj, nil
}

func templateEnv(t corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	strip := func(containers []corev1.Container) []corev1.Container {
		out := make([]corev1.Container, 0, len(containers))
		for _, c := range containers {
			kept := corev1.Container{Name: c.Name}
			for _, p := range c.Ports {
				kept.Ports = append(kept.Ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort})
			}
			for _, e := range c.Env {
				v := corev1.EnvVar{Name: e.Name}
				if e.Value != "" {
					v.Value = "*"
				}
				if e.ValueFrom != nil {
					v.ValueFrom = &corev1.EnvVarSource{} // which source does not matter, only that there is one
				}
				kept.Env = append(kept.Env, v)
			}
			out = append(out, kept)
		}
		return out
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: t.Labels},
		Spec: corev1.PodSpec{InitContainers: strip(t.Spec.InitContainers), Containers: strip(t.Spec.Containers)}}
}

// routeAttachmentFields keeps of a Gateway API route what S-2 reads: its parentRefs (group, kind, namespace,
// name), useDefaultGateways, and its rules' backendRefs (group, kind, namespace, name, port), those of
// request mirror filters included. Matches, hostnames, other filters and the status are dropped.
func routeAttachmentFields(obj any) (any, error) {
	switch r := obj.(type) {
	case *gatewayv1.HTTPRoute:
		kept := &gatewayv1.HTTPRoute{TypeMeta: r.TypeMeta, ObjectMeta: inventoryMeta(r.ObjectMeta),
			Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: routeParents(r.Spec.CommonRouteSpec)}}
		for _, rule := range r.Spec.Rules {
			k := gatewayv1.HTTPRouteRule{Filters: httpMirrorFilters(rule.Filters)}
			for _, b := range rule.BackendRefs {
				k.BackendRefs = append(k.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: backendRef(b.BackendRef), Filters: httpMirrorFilters(b.Filters)})
			}
			kept.Spec.Rules = append(kept.Spec.Rules, k)
		}
		return kept, nil
	case *gatewayv1.GRPCRoute:
		kept := &gatewayv1.GRPCRoute{TypeMeta: r.TypeMeta, ObjectMeta: inventoryMeta(r.ObjectMeta),
			Spec: gatewayv1.GRPCRouteSpec{CommonRouteSpec: routeParents(r.Spec.CommonRouteSpec)}}
		for _, rule := range r.Spec.Rules {
			k := gatewayv1.GRPCRouteRule{Filters: grpcMirrorFilters(rule.Filters)}
			for _, b := range rule.BackendRefs {
				k.BackendRefs = append(k.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: backendRef(b.BackendRef), Filters: grpcMirrorFilters(b.Filters)})
			}
			kept.Spec.Rules = append(kept.Spec.Rules, k)
		}
		return kept, nil
	case *gatewayv1.TLSRoute:
		kept := &gatewayv1.TLSRoute{TypeMeta: r.TypeMeta, ObjectMeta: inventoryMeta(r.ObjectMeta),
			Spec: gatewayv1.TLSRouteSpec{CommonRouteSpec: routeParents(r.Spec.CommonRouteSpec)}}
		for _, rule := range r.Spec.Rules {
			kept.Spec.Rules = append(kept.Spec.Rules, gatewayv1.TLSRouteRule{BackendRefs: backendRefs(rule.BackendRefs)})
		}
		return kept, nil
	case *gatewayv1.TCPRoute:
		kept := &gatewayv1.TCPRoute{TypeMeta: r.TypeMeta, ObjectMeta: inventoryMeta(r.ObjectMeta),
			Spec: gatewayv1.TCPRouteSpec{CommonRouteSpec: routeParents(r.Spec.CommonRouteSpec)}}
		for _, rule := range r.Spec.Rules {
			kept.Spec.Rules = append(kept.Spec.Rules, gatewayv1.TCPRouteRule{BackendRefs: backendRefs(rule.BackendRefs)})
		}
		return kept, nil
	case *gatewayv1.UDPRoute:
		kept := &gatewayv1.UDPRoute{TypeMeta: r.TypeMeta, ObjectMeta: inventoryMeta(r.ObjectMeta),
			Spec: gatewayv1.UDPRouteSpec{CommonRouteSpec: routeParents(r.Spec.CommonRouteSpec)}}
		for _, rule := range r.Spec.Rules {
			kept.Spec.Rules = append(kept.Spec.Rules, gatewayv1.UDPRouteRule{BackendRefs: backendRefs(rule.BackendRefs)})
		}
		return kept, nil
	}
	return obj, nil
}

func routeParents(spec gatewayv1.CommonRouteSpec) gatewayv1.CommonRouteSpec {
	kept := gatewayv1.CommonRouteSpec{UseDefaultGateways: spec.UseDefaultGateways}
	for _, p := range spec.ParentRefs {
		kept.ParentRefs = append(kept.ParentRefs, gatewayv1.ParentReference{Group: p.Group, Kind: p.Kind, Namespace: p.Namespace, Name: p.Name})
	}
	return kept
}

// backendRef keeps the object a backendRef names, not its weight: a backend weighted 0 still names the
// Service the route would send to, and S-2 counts it.
func backendRef(b gatewayv1.BackendRef) gatewayv1.BackendRef {
	o := b.BackendObjectReference
	return gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Group: o.Group, Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, Port: o.Port}}
}

func backendRefs(refs []gatewayv1.BackendRef) []gatewayv1.BackendRef {
	var out []gatewayv1.BackendRef
	for _, b := range refs {
		out = append(out, backendRef(b))
	}
	return out
}

// mirrorFilter keeps of a request mirror filter the backend it mirrors to.
func mirrorFilter(m *gatewayv1.HTTPRequestMirrorFilter) *gatewayv1.HTTPRequestMirrorFilter {
	return &gatewayv1.HTTPRequestMirrorFilter{BackendRef: backendRef(gatewayv1.BackendRef{BackendObjectReference: m.BackendRef}).BackendObjectReference}
}

func httpMirrorFilters(filters []gatewayv1.HTTPRouteFilter) []gatewayv1.HTTPRouteFilter {
	var out []gatewayv1.HTTPRouteFilter
	for _, f := range filters {
		if f.RequestMirror != nil {
			out = append(out, gatewayv1.HTTPRouteFilter{Type: f.Type, RequestMirror: mirrorFilter(f.RequestMirror)})
		}
	}
	return out
}

func grpcMirrorFilters(filters []gatewayv1.GRPCRouteFilter) []gatewayv1.GRPCRouteFilter {
	var out []gatewayv1.GRPCRouteFilter
	for _, f := range filters {
		if f.RequestMirror != nil {
			out = append(out, gatewayv1.GRPCRouteFilter{Type: f.Type, RequestMirror: mirrorFilter(f.RequestMirror)})
		}
	}
	return out
}
