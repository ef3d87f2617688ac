package compliance

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// Route is a Gateway API route as S-2 reads it, whatever its kind: where it asks to be attached and the
// backends it sends traffic to, those that only receive mirrored requests included (mirrored requests from
// outside reach the pods all the same).
type Route struct {
	Kind, Namespace, Name string
	ParentRefs            []gatewayv1.ParentReference
	// DefaultGateways is useDefaultGateways: All (experimental channel): the route attaches to the cluster's
	// default Gateways without naming one.
	DefaultGateways bool
	BackendRefs     []gatewayv1.BackendObjectReference
}

// RouteTypes are the Gateway API route kinds S-2 reads, one empty object of each with its kind set: the
// v1 route kinds of Gateway API v1.6 (TLSRoute became v1 in v1.5, TCPRoute and UDPRoute in v1.6; their
// older v1alpha2 versions are not read). A cluster serves some, all or none of them.
func RouteTypes() []client.Object {
	meta := func(kind string) metav1.TypeMeta {
		return metav1.TypeMeta{APIVersion: gatewayv1.SchemeGroupVersion.String(), Kind: kind}
	}
	return []client.Object{
		&gatewayv1.HTTPRoute{TypeMeta: meta("HTTPRoute")},
		&gatewayv1.GRPCRoute{TypeMeta: meta("GRPCRoute")},
		&gatewayv1.TLSRoute{TypeMeta: meta("TLSRoute")},
		&gatewayv1.TCPRoute{TypeMeta: meta("TCPRoute")},
		&gatewayv1.UDPRoute{TypeMeta: meta("UDPRoute")},
	}
}

// RouteOf reads a route of one of the RouteTypes; ok is false for any other object.
func RouteOf(obj any) (r Route, ok bool) {
	route := func(kind string, m metav1.ObjectMeta, spec gatewayv1.CommonRouteSpec) Route {
		return Route{Kind: kind, Namespace: m.Namespace, Name: m.Name, ParentRefs: spec.ParentRefs,
			DefaultGateways: spec.UseDefaultGateways == gatewayv1.GatewayDefaultScopeAll}
	}
	switch o := obj.(type) {
	case *gatewayv1.HTTPRoute:
		r = route("HTTPRoute", o.ObjectMeta, o.Spec.CommonRouteSpec)
		for _, rule := range o.Spec.Rules {
			r.BackendRefs = append(r.BackendRefs, httpMirrors(rule.Filters)...)
			for _, b := range rule.BackendRefs {
				r.BackendRefs = append(append(r.BackendRefs, b.BackendObjectReference), httpMirrors(b.Filters)...)
			}
		}
	case *gatewayv1.GRPCRoute:
		r = route("GRPCRoute", o.ObjectMeta, o.Spec.CommonRouteSpec)
		for _, rule := range o.Spec.Rules {
			r.BackendRefs = append(r.BackendRefs, grpcMirrors(rule.Filters)...)
			for _, b := range rule.BackendRefs {
				r.BackendRefs = append(append(r.BackendRefs, b.BackendObjectReference), grpcMirrors(b.Filters)...)
			}
		}
	case *gatewayv1.TLSRoute:
		r = route("TLSRoute", o.ObjectMeta, o.Spec.CommonRouteSpec)
		for _, rule := range o.Spec.Rules {
			r.BackendRefs = append(r.BackendRefs, objectRefs(rule.BackendRefs)...)
		}
	case *gatewayv1.TCPRoute:
		r = route("TCPRoute", o.ObjectMeta, o.Spec.CommonRouteSpec)
		for _, rule := range o.Spec.Rules {
			r.BackendRefs = append(r.BackendRefs, objectRefs(rule.BackendRefs)...)
		}
	case *gatewayv1.UDPRoute:
		r = route("UDPRoute", o.ObjectMeta, o.Spec.CommonRouteSpec)
		for _, rule := range o.Spec.Rules {
			r.BackendRefs = append(r.BackendRefs, objectRefs(rule.BackendRefs)...)
		}
	default:
		return Route{}, false
	}
	return r, true
}

func httpMirrors(filters []gatewayv1.HTTPRouteFilter) []gatewayv1.BackendObjectReference {
	var out []gatewayv1.BackendObjectReference
	for _, f := range filters {
		if f.RequestMirror != nil {
			out = append(out, f.RequestMirror.BackendRef)
		}
	}
	return out
}

func grpcMirrors(filters []gatewayv1.GRPCRouteFilter) []gatewayv1.BackendObjectReference {
	var out []gatewayv1.BackendObjectReference
	for _, f := range filters {
		if f.RequestMirror != nil {
			out = append(out, f.RequestMirror.BackendRef)
		}
	}
	return out
}

func objectRefs(refs []gatewayv1.BackendRef) []gatewayv1.BackendObjectReference {
	out := make([]gatewayv1.BackendObjectReference, 0, len(refs))
	for _, b := range refs {
		out = append(out, b.BackendObjectReference)
	}
	return out
}

// service is the namespace and name of the Service a backendRef names (group "" and kind Service are its
// defaults, an empty namespace is the route's own); ok is false for a backend of another kind.
func (r Route) service(b gatewayv1.BackendObjectReference) (namespace, name string, ok bool) {
	if (b.Group != nil && *b.Group != "") || (b.Kind != nil && *b.Kind != "Service") {
		return "", "", false
	}
	namespace = r.Namespace
	if b.Namespace != nil && *b.Namespace != "" {
		namespace = string(*b.Namespace)
	}
	return namespace, string(b.Name), true
}

// ServiceNamespaces are the namespaces of the Services the route sends traffic to, each once: the
// controller indexes routes by them, to find those of other namespaces that point into a profile's.
func (r Route) ServiceNamespaces() []string {
	var out []string
	for _, b := range r.BackendRefs {
		if ns, _, ok := r.service(b); ok && !slices.Contains(out, ns) {
			out = append(out, ns)
		}
	}
	return out
}

// parents names what the route is attached to, such as "Gateway infra/public". A parent that is a Service
// is a mesh route (GAMMA): it steers traffic between workloads inside the cluster, and is left out. Any
// other parent counts, a Gateway, a ListenerSet or an implementation's own kind, because the operator cannot
// tell whether a Gateway faces the internet; the message names it so that a reader can.
func (r Route) parents() []string {
	var out []string
	for _, p := range r.ParentRefs {
		group, kind := gatewayv1.GroupName, "Gateway"
		if p.Group != nil {
			group = string(*p.Group)
		}
		if p.Kind != nil {
			kind = string(*p.Kind)
		}
		if group == "" && kind == "Service" {
			continue
		}
		namespace := r.Namespace
		if p.Namespace != nil && *p.Namespace != "" {
			namespace = string(*p.Namespace)
		}
		if name := fmt.Sprintf("%s %s/%s", kind, namespace, p.Name); !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if r.DefaultGateways {
		out = append(out, "the default Gateways")
	}
	return out
}
