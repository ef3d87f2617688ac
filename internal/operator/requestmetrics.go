package operator

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// kubeRequests counts the operator's requests to the API server by what they do, which client-go's own
// rest_client_requests_total (by status code, method and host) cannot tell: a PATCH may be an apply, a dry
// run or a status write. The scale benchmark (hack/bench) reads it beside the API server's audit log, and an
// operator's user can see on a dashboard where the requests of a busy cluster go.
var kubeRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "reliability_operator_kube_requests_total",
	Help: "Requests of the operator to the Kubernetes API server, by verb (get, list, watch, create, update, patch, apply, delete, deletecollection; -dryrun when the server was asked not to store) and resource (with /subresource; discovery for /api, /apis, /openapi and /version).",
}, []string{"verb", "resource"})

func init() {
	// Once per process: tests start several operators in one.
	metrics.Registry.MustRegister(kubeRequests)
}

// withRequestMetrics is cfg with its requests counted in kubeRequests; the caller's cfg is left as it is.
func withRequestMetrics(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt} })
	return cfg
}

type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	verb, resource := requestKind(req)
	kubeRequests.WithLabelValues(verb, resource).Inc()
	return t.next.RoundTrip(req)
}

// requestKind is the verb and resource of a request to the API server, named as the API server's audit log
// names them (so that the two counts can be compared), except that an apply is told from other patches.
// A request of no resource is named by its method ("get discovery").
func requestKind(req *http.Request) (verb, resource string) {
	resource, named := pathResource(req.URL.Path)
	q := req.URL.Query()
	if resource == "discovery" || resource == "other" {
		// As the audit log names a request of no resource: by its method.
		return strings.ToLower(req.Method), resource
	}
	switch req.Method {
	case http.MethodGet:
		verb = "list"
		if named {
			verb = "get"
		} else if w := q.Get("watch"); w == "true" || w == "1" {
			verb = "watch"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
		if strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") {
			verb = "apply"
		}
	case http.MethodDelete:
		verb = "deletecollection"
		if named {
			verb = "delete"
		}
	default:
		verb = strings.ToLower(req.Method)
	}
	if q.Has("dryRun") {
		verb += "-dryrun"
	}
	return verb, resource
}

// pathResource reads a request path as the API server routes it:
//
//	/api/v1[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//	/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<subresource>]]
//
// and returns the resource (with "/<subresource>" if any) and whether the path names one object. A path
// that reaches no resource (/api, /apis/<group>/<version>, /openapi/v3, /version) is "discovery"; any other
// (/healthz) is "other".
func pathResource(path string) (resource string, named bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case parts[0] == "api" && len(parts) >= 2:
		rest = parts[2:]
	case parts[0] == "apis" && len(parts) >= 3:
		rest = parts[3:]
	case parts[0] == "api" || parts[0] == "apis" || parts[0] == "openapi" || parts[0] == "version":
		return "discovery", false
	default:
		return "other", false
	}
	if len(rest) == 0 {
		return "discovery", false
	}
	// A namespace's own subresources (/namespaces/<name>/status, /finalize) look like a namespaced resource.
	if rest[0] == "namespaces" && len(rest) >= 3 && rest[2] != "status" && rest[2] != "finalize" {
		rest = rest[2:]
	}
	resource = rest[0]
	if len(rest) >= 3 {
		resource += "/" + rest[2]
	}
	return resource, len(rest) >= 2
}
