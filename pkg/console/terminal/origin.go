package terminal

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// originOf is the origin (scheme://host[:port]) of the console's public URL.
func originOf(publicURL string) (string, error) {
	u, err := url.Parse(publicURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "", fmt.Errorf("the terminal needs the console's public URL as an absolute http(s) URL, not %q", publicURL)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// sameOrigin says whether r comes from the console's own pages. Browsers
// send Origin on every websocket; one without it is refused too.
func (h *Handler) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin != "" && strings.ToLower(origin) == h.origin
}
