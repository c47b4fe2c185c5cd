package testprovider

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

var authRequestID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// SignIn drives a browser-less sign-in for tests: it GETs start (which
// must lead to this provider's login page), fills in the login form with
// username and password, and returns the response the client ends at
// after the redirects its CheckRedirect follows. The caller closes it.
func (p *Provider) SignIn(client *http.Client, start, username, password string) (*http.Response, error) {
	resp, err := client.Get(start)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", start, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the login page: %w", err)
	}
	if !strings.HasPrefix(resp.Request.URL.String(), p.Issuer+"/login") {
		return nil, fmt.Errorf("%s led to %s (%d), not to the provider's login page", start, resp.Request.URL, resp.StatusCode)
	}
	m := authRequestID.FindSubmatch(body)
	if m == nil {
		return nil, fmt.Errorf("the login page holds no auth request id")
	}
	return client.PostForm(p.Issuer+"/login", url.Values{"id": {string(m[1])}, "username": {username}, "password": {password}})
}
