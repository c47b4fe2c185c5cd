package pages

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestBackToOnlyReturnsToTheConsolesOwnPages(t *testing.T) {
	for back, want := range map[string]string{
		"/approvals":          "/approvals",
		"/":                   "/",
		"/requests/req-1":     "/requests/req-1",
		"/requests/req-2":     "/fallback", // another request's page is not where this form came from
		"https://evil.test/":  "/fallback",
		"//evil.test/":        "/fallback",
		"/requests/req-1/../": "/fallback",
		"":                    "/fallback",
	} {
		r := httptest.NewRequest("POST", "/requests/req-1/revoke", strings.NewReader(url.Values{"back": {back}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := backTo(r, "req-1", "/fallback"); got != want {
			t.Errorf("backTo(%q) = %q, want %q", back, got, want)
		}
	}
}
