package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// AuditPolicy records the metadata of one user's requests, once each when its response starts (watches) or
// completes, and nothing of anyone else's: the API server's own count of a client's requests, to check the
// client's count of them and to name each one.
func AuditPolicy(user string) string {
	return `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [` + user + `]
- level: None
`
}

// AuditedRequest is one request of the audit log.
type AuditedRequest struct {
	Verb       string // the API server's: get, list, watch, create, update, patch, delete, deletecollection
	RequestURI string
	DryRun     bool // asked not to store (dryRun=All): the audit log's verb says only patch or create
	// Resource is the objectRef's resource, with "/" and its subresource if any ("reliabilityprofiles/status"),
	// or "discovery" for /api, /apis, /openapi and /version, which have none.
	Resource string
	Received time.Time
}

func (r AuditedRequest) String() string { return r.Verb + " " + r.RequestURI }

// AuditedRequests are the user's requests of the audit log at path that the API server received in
// [from, to), each once.
func AuditedRequests(path, user string, from, to time.Time) ([]AuditedRequest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	seen := map[string]bool{}
	var out []AuditedRequest
	lines := bufio.NewScanner(f)
	lines.Buffer(make([]byte, 1<<20), 1<<24)
	for lines.Scan() {
		var event struct {
			AuditID                  string    `json:"auditID"`
			Verb                     string    `json:"verb"`
			RequestURI               string    `json:"requestURI"`
			RequestReceivedTimestamp time.Time `json:"requestReceivedTimestamp"`
			User                     struct {
				Username string `json:"username"`
			} `json:"user"`
			ObjectRef *struct {
				Resource    string `json:"resource"`
				Subresource string `json:"subresource"`
			} `json:"objectRef"`
		}
		if err := json.Unmarshal(lines.Bytes(), &event); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		received := event.RequestReceivedTimestamp
		if event.User.Username != user || seen[event.AuditID] || received.Before(from) || !received.Before(to) {
			continue
		}
		seen[event.AuditID] = true
		r := AuditedRequest{Verb: event.Verb, RequestURI: event.RequestURI, Received: received, Resource: "other"}
		if u, err := url.Parse(event.RequestURI); err == nil {
			r.DryRun = u.Query().Has("dryRun")
		}
		switch {
		case event.ObjectRef != nil:
			r.Resource = event.ObjectRef.Resource
			if event.ObjectRef.Subresource != "" {
				r.Resource += "/" + event.ObjectRef.Subresource
			}
		case isDiscoveryPath(strings.SplitN(event.RequestURI, "?", 2)[0]):
			r.Resource = "discovery"
		}
		out = append(out, r)
	}
	return out, lines.Err()
}

// isDiscoveryPath tells the paths a client reads to learn what the API server serves, which name no
// resource.
func isDiscoveryPath(path string) bool {
	for _, prefix := range []string{"/api", "/apis", "/openapi", "/version"} {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			return true
		}
	}
	return false
}
