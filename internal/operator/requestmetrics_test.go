package operator

import (
	"net/http"
	"net/url"
	"testing"
)

func TestRequestKind(t *testing.T) {
	for _, c := range []struct {
		name, method, uri, contentType string
		verb, resource                 string
	}{
		{"a list of profiles in every namespace", "GET", "/apis/reliability.dev/v1alpha1/reliabilityprofiles?limit=500", "", "list", "reliabilityprofiles"},
		{"a watch of a group's kind", "GET", "/apis/monitoring.coreos.com/v1/prometheusrules?watch=true&resourceVersion=1", "", "watch", "prometheusrules"},
		{"a namespaced list", "GET", "/apis/networking.k8s.io/v1/namespaces/team-1/networkpolicies", "", "list", "networkpolicies"},
		{"a get of a core object", "GET", "/api/v1/namespaces/team-1/configmaps/checkout-dashboard", "", "get", "configmaps"},
		{"a status write is a patch of the status subresource", "PATCH", "/apis/reliability.dev/v1alpha1/namespaces/team-1/reliabilityprofiles/checkout/status", "application/merge-patch+json", "patch", "reliabilityprofiles/status"},
		{"a server-side apply is told from a patch", "PATCH", "/apis/monitoring.coreos.com/v1/namespaces/team-1/servicemonitors/checkout?fieldManager=reliability-operator&force=true", "application/apply-patch+yaml", "apply", "servicemonitors"},
		{"a dry run is told from a write", "PATCH", "/apis/policy/v1/namespaces/team-1/poddisruptionbudgets/checkout?dryRun=All&fieldManager=reliability-operator", "application/apply-patch+yaml", "apply-dryrun", "poddisruptionbudgets"},
		{"a create", "POST", "/api/v1/namespaces/team-1/events", "application/json", "create", "events"},
		{"an update", "PUT", "/apis/coordination.k8s.io/v1/namespaces/system/leases/reliability-operator.reliability.dev", "application/json", "update", "leases"},
		{"a delete", "DELETE", "/apis/networking.k8s.io/v1/namespaces/team-1/networkpolicies/checkout", "", "delete", "networkpolicies"},
		{"a delete of a collection", "DELETE", "/api/v1/namespaces/team-1/configmaps?labelSelector=a%3Db", "", "deletecollection", "configmaps"},
		{"a cluster-scoped get", "GET", "/api/v1/nodes/node-1", "", "get", "nodes"},
		{"a namespace is a cluster-scoped object", "GET", "/api/v1/namespaces/team-1", "", "get", "namespaces"},
		{"a namespace's status is its subresource, not a resource in it", "PUT", "/api/v1/namespaces/team-1/status", "application/json", "update", "namespaces/status"},
		{"the core group's discovery", "GET", "/api", "", "get", "discovery"},
		{"a group version's discovery", "GET", "/apis/monitoring.coreos.com/v1", "", "get", "discovery"},
		{"the aggregated discovery", "GET", "/apis", "", "get", "discovery"},
		{"the server's version", "GET", "/version", "", "get", "discovery"},
		{"the OpenAPI document", "GET", "/openapi/v3/apis/apps/v1", "", "get", "discovery"},
		{"a path outside the API", "GET", "/healthz", "", "get", "other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := url.Parse("https://127.0.0.1:6443" + c.uri)
			if err != nil {
				t.Fatal(err)
			}
			req := &http.Request{Method: c.method, URL: u, Header: http.Header{}}
			if c.contentType != "" {
				req.Header.Set("Content-Type", c.contentType)
			}
			verb, resource := requestKind(req)
			if verb != c.verb || resource != c.resource {
				t.Errorf("%s %s: got %s %s, want %s %s", c.method, c.uri, verb, resource, c.verb, c.resource)
			}
		})
	}
}
