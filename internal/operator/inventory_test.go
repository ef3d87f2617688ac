package operator

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/reliability-operator/reliability-operator/api/v1alpha1"
	"github.com/reliability-operator/reliability-operator/internal/compliance"
)

// routeMeta has what the cache drops besides the identity it keeps.
func routeMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "shop", Name: name, UID: "u", ResourceVersion: "7", Generation: 3,
		Labels: map[string]string{"team": "web"}, Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}
}

var (
	publicGateway = gatewayv1.ParentReference{Namespace: ptr.To(gatewayv1.Namespace("infra")), Name: "public",
		SectionName: ptr.To(gatewayv1.SectionName("https")), Port: ptr.To(gatewayv1.PortNumber(443))}
	checkoutBackend = gatewayv1.BackendRef{Weight: ptr.To(int32(0)), BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: "checkout", Namespace: ptr.To(gatewayv1.Namespace("shop")), Port: ptr.To(gatewayv1.PortNumber(80))}}
	shadowMirror = &gatewayv1.HTTPRequestMirrorFilter{Percent: ptr.To(int32(10)), BackendRef: gatewayv1.BackendObjectReference{Name: "shadow"}}
	headerFilter = &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Env", Value: "prod"}}}
)

// TestTheRouteCacheKeepsWhatS2ReadsAndDropsTheRest: for each route kind, S-2 reads the same route from the
// cached object as from the whole one (parents without section or port, which it does not read), and the
// cached object holds no hostname, match, header filter, weight, status or metadata beyond identity.
func TestTheRouteCacheKeepsWhatS2ReadsAndDropsTheRest(t *testing.T) {
	common := gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{publicGateway}, UseDefaultGateways: gatewayv1.GatewayDefaultScopeAll}
	status := gatewayv1.RouteStatus{Parents: []gatewayv1.RouteParentStatus{{ParentRef: publicGateway, ControllerName: "example.com/gateway"}}}
	tests := []struct {
		route, want any
	}{
		{
			&gatewayv1.HTTPRoute{ObjectMeta: routeMeta("web"), Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: common,
				Hostnames: []gatewayv1.Hostname{"shop.example.com"},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Value: ptr.To("/cart")}}},
					Filters: []gatewayv1.HTTPRouteFilter{
						{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: headerFilter},
						{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: shadowMirror}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: checkoutBackend,
						Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: headerFilter}}}},
				}}}, Status: gatewayv1.HTTPRouteStatus{RouteStatus: status}},
			&gatewayv1.HTTPRoute{ObjectMeta: keptMeta("web"), Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: keptCommon(),
				Rules: []gatewayv1.HTTPRouteRule{{
					Filters:     []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: keptMirror()}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: keptBackend()}},
				}}}},
		},
		{
			&gatewayv1.GRPCRoute{ObjectMeta: routeMeta("api"), Spec: gatewayv1.GRPCRouteSpec{CommonRouteSpec: common,
				Hostnames: []gatewayv1.Hostname{"api.example.com"},
				Rules: []gatewayv1.GRPCRouteRule{{
					Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: ptr.To("shop.Checkout")}}},
					BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: checkoutBackend, Filters: []gatewayv1.GRPCRouteFilter{
						{Type: gatewayv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: headerFilter},
						{Type: gatewayv1.GRPCRouteFilterRequestMirror, RequestMirror: shadowMirror}}}},
				}}}, Status: gatewayv1.GRPCRouteStatus{RouteStatus: status}},
			&gatewayv1.GRPCRoute{ObjectMeta: keptMeta("api"), Spec: gatewayv1.GRPCRouteSpec{CommonRouteSpec: keptCommon(),
				Rules: []gatewayv1.GRPCRouteRule{{BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: keptBackend(),
					Filters: []gatewayv1.GRPCRouteFilter{{Type: gatewayv1.GRPCRouteFilterRequestMirror, RequestMirror: keptMirror()}}}}}}}},
		},
		{
			&gatewayv1.TLSRoute{ObjectMeta: routeMeta("tls"), Spec: gatewayv1.TLSRouteSpec{CommonRouteSpec: common,
				Hostnames: []gatewayv1.Hostname{"tls.example.com"}, Rules: []gatewayv1.TLSRouteRule{{BackendRefs: []gatewayv1.BackendRef{checkoutBackend}}}},
				Status: gatewayv1.TLSRouteStatus{RouteStatus: status}},
			&gatewayv1.TLSRoute{ObjectMeta: keptMeta("tls"), Spec: gatewayv1.TLSRouteSpec{CommonRouteSpec: keptCommon(),
				Rules: []gatewayv1.TLSRouteRule{{BackendRefs: []gatewayv1.BackendRef{keptBackend()}}}}},
		},
		{
			&gatewayv1.TCPRoute{ObjectMeta: routeMeta("tcp"), Spec: gatewayv1.TCPRouteSpec{CommonRouteSpec: common,
				Rules: []gatewayv1.TCPRouteRule{{Name: ptr.To(gatewayv1.SectionName("db")), BackendRefs: []gatewayv1.BackendRef{checkoutBackend}}}},
				Status: gatewayv1.TCPRouteStatus{RouteStatus: status}},
			&gatewayv1.TCPRoute{ObjectMeta: keptMeta("tcp"), Spec: gatewayv1.TCPRouteSpec{CommonRouteSpec: keptCommon(),
				Rules: []gatewayv1.TCPRouteRule{{BackendRefs: []gatewayv1.BackendRef{keptBackend()}}}}},
		},
		{
			&gatewayv1.UDPRoute{ObjectMeta: routeMeta("udp"), Spec: gatewayv1.UDPRouteSpec{CommonRouteSpec: common,
				Rules: []gatewayv1.UDPRouteRule{{BackendRefs: []gatewayv1.BackendRef{checkoutBackend}}}},
				Status: gatewayv1.UDPRouteStatus{RouteStatus: status}},
			&gatewayv1.UDPRoute{ObjectMeta: keptMeta("udp"), Spec: gatewayv1.UDPRouteSpec{CommonRouteSpec: keptCommon(),
				Rules: []gatewayv1.UDPRouteRule{{BackendRefs: []gatewayv1.BackendRef{keptBackend()}}}}},
		},
	}
	if len(tests) != len(compliance.RouteTypes()) {
		t.Errorf("%d route kinds tested, compliance.RouteTypes has %d", len(tests), len(compliance.RouteTypes()))
	}
	for _, tt := range tests {
		kept, err := routeAttachmentFields(tt.route)
		if err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(kept, tt.want) {
			t.Errorf("%T kept as\n%+v\nwant\n%+v", tt.route, kept, tt.want)
		}
		whole, _ := compliance.RouteOf(tt.route)
		cached, ok := compliance.RouteOf(kept)
		for i := range whole.ParentRefs {
			whole.ParentRefs[i].SectionName, whole.ParentRefs[i].Port = nil, nil
		}
		if !ok || !equality.Semantic.DeepEqual(whole, cached) {
			t.Errorf("%T: S-2 reads %+v from the cache, %+v from the whole route", tt.route, cached, whole)
		}
	}
}

func keptMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: "shop", Name: name, UID: "u", ResourceVersion: "7", Generation: 3}
}

func keptCommon() gatewayv1.CommonRouteSpec {
	return gatewayv1.CommonRouteSpec{UseDefaultGateways: gatewayv1.GatewayDefaultScopeAll,
		ParentRefs: []gatewayv1.ParentReference{{Namespace: ptr.To(gatewayv1.Namespace("infra")), Name: "public"}}}
}

func keptBackend() gatewayv1.BackendRef {
	return gatewayv1.BackendRef{BackendObjectReference: checkoutBackend.BackendObjectReference}
}

func keptMirror() *gatewayv1.HTTPRequestMirrorFilter {
	return &gatewayv1.HTTPRequestMirrorFilter{BackendRef: gatewayv1.BackendObjectReference{Name: "shadow"}}
}

// The cache keeps a profile whole but for its managedFields, which nothing of the operator reads.
func TestTheProfileCacheDropsOnlyManagedFields(t *testing.T) {
	rp := &v1alpha1.ReliabilityProfile{ObjectMeta: routeMeta("checkout"),
		Spec: v1alpha1.ReliabilityProfileSpec{Service: "checkout", Tier: v1alpha1.TierCritical}}
	want := rp.DeepCopy()
	want.ManagedFields = nil
	got, err := profileWithoutManagedFields(rp)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) { // the profile has an unexported field, which Semantic refuses
		t.Errorf("cached %+v, want %+v", got, want)
	}
}
