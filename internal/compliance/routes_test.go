package compliance

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
)

// allRouteKinds is a cluster that serves every route kind S-2 reads.
func allRouteKinds() []string {
	var kinds []string
	for _, t := range RouteTypes() {
		kinds = append(kinds, t.GetObjectKind().GroupVersionKind().Kind)
	}
	return kinds
}

func gateway(namespace, name string) gatewayv1.ParentReference {
	return gatewayv1.ParentReference{Namespace: ptr.To(gatewayv1.Namespace(namespace)), Name: gatewayv1.ObjectName(name)}
}

func serviceBackend(name string) gatewayv1.HTTPBackendRef {
	return gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: gatewayv1.ObjectName(name), Port: ptr.To(gatewayv1.PortNumber(80))}}}
}

// httpRoute is an HTTPRoute of the profile's namespace "shop" with one rule to the given backends.
func httpRoute(name string, parents []gatewayv1.ParentReference, backends ...gatewayv1.HTTPBackendRef) *gatewayv1.HTTPRoute {
	return &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name},
		Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: parents},
			Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: backends}}}}
}

func TestGatewayRoutesExposeTheServiceWhenAttachedAndSendingToAServiceThatReachesItsPods(t *testing.T) {
	public := []gatewayv1.ParentReference{gateway("infra", "public")}
	tests := []struct {
		name    string
		route   any
		public  bool
		want    v1alpha1.ComplianceResult
		message string // a part of the message
	}{
		{"an HTTPRoute attached to a Gateway, to the Service, fails naming both",
			httpRoute("shop", public, serviceBackend("checkout")), false,
			v1alpha1.ComplianceFail, "Exposed outside the cluster by HTTPRoute/shop (via Gateway infra/public, to Service/checkout)"},
		{"the same route passes once the profile declares the service public",
			httpRoute("shop", public, serviceBackend("checkout")), true,
			v1alpha1.CompliancePass, "Public as declared (the storefront): HTTPRoute/shop (via Gateway infra/public, to Service/checkout)"},
		{"a Gateway of the route's own namespace is named with it",
			httpRoute("shop", []gatewayv1.ParentReference{{Name: "edge"}, {Name: "edge", SectionName: ptr.To(gatewayv1.SectionName("https"))}}, serviceBackend("checkout")), false,
			v1alpha1.ComplianceFail, "HTTPRoute/shop (via Gateway shop/edge, to Service/checkout)"},
		{"a route attached to nothing exposes nothing",
			httpRoute("shop", nil, serviceBackend("checkout")), false,
			v1alpha1.CompliancePass, "no HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute attached to a Gateway"},
		{"a mesh route, whose parent is a Service, stays inside the cluster",
			httpRoute("shop", []gatewayv1.ParentReference{{Group: ptr.To(gatewayv1.Group("")), Kind: ptr.To(gatewayv1.Kind("Service")), Name: "checkout"}}, serviceBackend("checkout")), false,
			v1alpha1.CompliancePass, "No LoadBalancer"},
		{"a ListenerSet counts as a parent, named with its kind",
			httpRoute("shop", []gatewayv1.ParentReference{{Kind: ptr.To(gatewayv1.Kind("ListenerSet")), Name: "team"}}, serviceBackend("checkout")), false,
			v1alpha1.ComplianceFail, "HTTPRoute/shop (via ListenerSet shop/team, to Service/checkout)"},
		{"a route to a Service that does not reach the pods exposes nothing",
			httpRoute("cart", public, serviceBackend("cart")), false,
			v1alpha1.CompliancePass, "No LoadBalancer"},
		{"a route to a Service that does not exist exposes nothing",
			httpRoute("shop", public, serviceBackend("checkout-v2")), false,
			v1alpha1.CompliancePass, "No LoadBalancer"},
		{"a backend of another kind, even of the Service's name, is not the Service",
			httpRoute("shop", public, gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
				Group: ptr.To(gatewayv1.Group("multicluster.x-k8s.io")), Kind: ptr.To(gatewayv1.Kind("ServiceImport")), Name: "checkout"}}}), false,
			v1alpha1.CompliancePass, "No LoadBalancer"},
		{"of two backends, the one that reaches the pods is named",
			httpRoute("shop", public, serviceBackend("cart"), serviceBackend("checkout")), false,
			v1alpha1.ComplianceFail, "HTTPRoute/shop (via Gateway infra/public, to Service/checkout)"},
		{"a route of another namespace that names the profile's namespace fails, saying it needs a ReferenceGrant",
			&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "storefront"},
				Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
					Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
						Name: "checkout", Namespace: ptr.To(gatewayv1.Namespace("shop"))}}}}}}}}, false,
			v1alpha1.ComplianceFail, "HTTPRoute/storefront of namespace edge (via Gateway edge/public, to Service/checkout if a ReferenceGrant allows it)"},
		{"a route of another namespace to its own namespace's Service of the same name exposes nothing here",
			&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "storefront"},
				Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "public"}}},
					Rules: []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{serviceBackend("checkout")}}}}}, false,
			v1alpha1.CompliancePass, "No LoadBalancer"},
		{"a GRPCRoute that mirrors requests to the Service exposes it too",
			&gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api"},
				Spec: gatewayv1.GRPCRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: public},
					Rules: []gatewayv1.GRPCRouteRule{{Filters: []gatewayv1.GRPCRouteFilter{{Type: gatewayv1.GRPCRouteFilterRequestMirror,
						RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "checkout"}}}}}}}}, false,
			v1alpha1.ComplianceFail, "GRPCRoute/api (via Gateway infra/public, to Service/checkout)"},
		{"a TCPRoute on the default Gateways says so",
			&gatewayv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "raw"},
				Spec: gatewayv1.TCPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{UseDefaultGateways: gatewayv1.GatewayDefaultScopeAll},
					Rules: []gatewayv1.TCPRouteRule{{BackendRefs: []gatewayv1.BackendRef{{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "checkout"}}}}}}}, false,
			v1alpha1.ComplianceFail, "TCPRoute/raw (via the default Gateways, to Service/checkout)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			route, ok := RouteOf(tt.route)
			if !ok {
				t.Fatalf("RouteOf(%T) is not a route", tt.route)
			}
			c := cluster()
			// Another service's Service, beside the profile's.
			c.Services = append(c.Services, corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "cart"},
				Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "cart"}}})
			c.Routes, c.RouteKinds = []Route{route}, allRouteKinds()
			rp := profile()
			if tt.public {
				rp.Spec.Public = &v1alpha1.PublicExposure{Reason: "the storefront"}
			}
			v := checkExposure(Snapshot{Profile: rp, Cluster: c, Now: today})
			if v.Result != tt.want || !strings.Contains(v.Message, tt.message) {
				t.Errorf("%s %q, want %s mentioning %q", v.Result, v.Message, tt.want, tt.message)
			}
		})
	}
}

func TestS2SaysWhichRouteKindsItDidNotCheck(t *testing.T) {
	tests := []struct {
		name       string
		routeKinds []string
		message    string
	}{
		{"without the Gateway API", nil,
			"Gateway API routes were not checked: the Gateway API is not installed (the cluster serves no route kind of gateway.networking.k8s.io/v1)."},
		{"with every route kind", allRouteKinds(),
			"No LoadBalancer or NodePort Service, no Ingress and no HTTPRoute, GRPCRoute, TLSRoute, TCPRoute or UDPRoute attached to a Gateway reaches the service's pods."},
		{"with an older Gateway API, before TLSRoute, TCPRoute and UDPRoute were v1", []string{"HTTPRoute", "GRPCRoute"},
			"no HTTPRoute or GRPCRoute attached to a Gateway reaches the service's pods. Not checked, the cluster does not serve them at gateway.networking.k8s.io/v1: TLSRoute, TCPRoute, UDPRoute."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cluster()
			c.RouteKinds = tt.routeKinds
			v := checkExposure(Snapshot{Profile: profile(), Cluster: c, Now: today})
			if v.Result != v1alpha1.CompliancePass || !strings.HasSuffix(v.Message, tt.message) {
				t.Errorf("%s %q, want Pass ending %q", v.Result, v.Message, tt.message)
			}
		})
	}
}

func TestRouteOfReadsEveryRouteType(t *testing.T) {
	for _, obj := range RouteTypes() {
		kind := obj.GetObjectKind().GroupVersionKind()
		if kind.GroupVersion() != gatewayv1.SchemeGroupVersion {
			t.Errorf("%s is of %s, want %s", kind.Kind, kind.GroupVersion(), gatewayv1.SchemeGroupVersion)
		}
		if r, ok := RouteOf(obj); !ok || r.Kind != kind.Kind {
			t.Errorf("RouteOf(%T) = %q, %v; want kind %s", obj, r.Kind, ok, kind.Kind)
		}
	}
	if _, ok := RouteOf(&gatewayv1.Gateway{}); ok {
		t.Error("a Gateway was read as a route")
	}
}

func TestServiceNamespacesAreThoseOfTheServiceBackends(t *testing.T) {
	r, _ := RouteOf(&gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: "edge", Name: "storefront"},
		Spec: gatewayv1.HTTPRouteSpec{Rules: []gatewayv1.HTTPRouteRule{{
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror,
				RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "shadow", Namespace: ptr.To(gatewayv1.Namespace("canary"))}}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{
				serviceBackend("web"),
				{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "checkout", Namespace: ptr.To(gatewayv1.Namespace("shop"))}}},
				{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "cart", Namespace: ptr.To(gatewayv1.Namespace("shop"))}}},
				{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Group: ptr.To(gatewayv1.Group("example.com")), Kind: ptr.To(gatewayv1.Kind("Bucket")), Name: "assets", Namespace: ptr.To(gatewayv1.Namespace("static"))}}},
			}}}}})
	got := strings.Join(r.ServiceNamespaces(), ",")
	if got != "canary,edge,shop" {
		t.Errorf("ServiceNamespaces = %s, want canary,edge,shop (each once, the Bucket's left out)", got)
	}
}
