package pages

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/fields"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
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

func TestOpenSelectorKeepsWhatMayStillBeDecided(t *testing.T) {
	sel, err := fields.ParseSelector(openSelector)
	if err != nil {
		t.Fatalf("parsing %q: %v", openSelector, err)
	}
	for phase, open := range map[v1alpha1.AccessRequestPhase]bool{
		"": true, v1alpha1.AccessRequestPending: true, v1alpha1.AccessRequestApproved: true, v1alpha1.AccessRequestActive: true,
		v1alpha1.AccessRequestExpired: false, v1alpha1.AccessRequestDenied: false, v1alpha1.AccessRequestWithdrawn: false,
		v1alpha1.AccessRequestRevoked: false, v1alpha1.AccessRequestFailed: false,
	} {
		if got := sel.Matches(fields.Set{v1alpha1.FieldPhase: string(phase)}); got != open {
			t.Errorf("phase %q: selected %v, want %v", phase, got, open)
		}
	}
}
