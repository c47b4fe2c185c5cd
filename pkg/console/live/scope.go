package live

import (
	"fmt"
	"net/url"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// Path is where the streams are served.
const Path = "/live"

// The scopes a stream may watch, as the scope query parameter names them.
const (
	scopeMine    = "mine"
	scopeAll     = "all"
	scopeRequest = "request"
)

// Scope is which AccessRequests a page shows, and so which a stream watches.
type Scope struct {
	kind, name string
}

// Mine is the signed-in person's own requests (My requests).
func Mine() Scope { return Scope{kind: scopeMine} }

// All is every request the signed-in person may list (Approvals).
func All() Scope { return Scope{kind: scopeAll} }

// Request is the one request called name (a request's own page).
func Request(name string) Scope { return Scope{kind: scopeRequest, name: name} }

// query is the stream's query string, starting after resourceVersion.
func (s Scope) query(resourceVersion string) string {
	q := url.Values{"scope": {s.kind}}
	if s.kind == scopeRequest {
		q.Set("name", s.name)
	}
	if resourceVersion != "" {
		q.Set("rv", resourceVersion)
	}
	return q.Encode()
}

// listOptions selects the scope's requests as username sees them.
func (s Scope) listOptions(username string) metav1.ListOptions {
	switch s.kind {
	case scopeMine:
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldRequesterUsername, username).String()}
	case scopeRequest:
		return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", s.name).String()}
	}
	return metav1.ListOptions{}
}

// maxResourceVersion bounds the resourceVersion a browser may send back; it
// is echoed as the event id, so it must also be one line.
const maxResourceVersion = 64

// parseRequest reads the scope and starting resourceVersion of a stream
// request: the browser's Last-Event-ID when it reconnects, else ?rv=.
func parseRequest(q url.Values, lastEventID string) (Scope, string, error) {
	var errs field.ErrorList
	var s Scope
	switch kind := q.Get("scope"); kind {
	case scopeMine, scopeAll:
		s = Scope{kind: kind}
	case scopeRequest:
		name := q.Get("name")
		for _, msg := range validation.IsDNS1123Subdomain(name) {
			errs = append(errs, field.Invalid(field.NewPath("name"), name, msg))
		}
		s = Request(name)
	default:
		errs = append(errs, field.NotSupported(field.NewPath("scope"), kind, []string{scopeMine, scopeAll, scopeRequest}))
	}
	rv := lastEventID
	rvPath := field.NewPath("Last-Event-ID")
	if rv == "" {
		rv, rvPath = q.Get("rv"), field.NewPath("rv")
	}
	if len(rv) > maxResourceVersion {
		errs = append(errs, field.TooLong(rvPath, "", maxResourceVersion))
	}
	for _, c := range rv {
		if c < '!' || c > '~' {
			errs = append(errs, field.Invalid(rvPath, rv, "must be printable ASCII without spaces"))
			break
		}
	}
	if len(errs) > 0 {
		return Scope{}, "", fmt.Errorf("%s: %w", Path, errs.ToAggregate())
	}
	return s, rv, nil
}
