package live

import "net/http"

// Page is what web/templates/layout.html needs to keep a page live: the
// stream to listen to and the address to re-fetch the content from. A
// handler opts its page in by setting it, with the resourceVersion of the
// list or object it rendered, so no change made after that is missed.
type Page struct {
	Stream  string
	Refresh string
}

// For is the live wiring of the page r asked for, showing scope as of
// resourceVersion.
func For(scope Scope, resourceVersion string, r *http.Request) *Page {
	return &Page{Stream: Path + "?" + scope.query(resourceVersion), Refresh: r.URL.RequestURI()}
}
