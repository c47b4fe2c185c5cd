package pages

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/web"
)

// TestDetailPageRendersEverySection renders the real templates with an
// active request an approver may revoke and extend, and Events the API
// refused: every section is there, in one #detail container.
func TestDetailPageRendersEverySection(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 30, 0, 0, time.UTC)
	r, err := newRenderer(web.FS, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	v := detailView{
		requestView: requestView{
			Name: "req-1", Cluster: "dev", Requester: "alice", Reason: "INC-1", Phase: v1alpha1.AccessRequestActive,
			Namespaces: []string{"payments"}, Duration: "1h", Approvals: 1, Required: 1,
			Created: now.Add(-10 * time.Minute), ExpiresAt: now.Add(50 * time.Minute),
			CanRevoke: true, CanExtend: true, ExtendChoices: []string{"15m", "7h"}, MaxDuration: "8h", Back: "/requests/req-1",
		},
		Requested: "1h", Granted: "1h", EndsLabel: "Ends", ActivatedAt: now.Add(-10 * time.Minute),
		ApprovalList: []decisionView{{User: "bob", Time: now.Add(-11 * time.Minute), Reason: "ok"}},
		Timeline:     []timelineEntry{{Time: now.Add(-12 * time.Minute), Kind: "requested", Title: "Requested by alice", Source: "request"}},
		EventsError:  &APIError{Code: 403, Reason: "Forbidden", Message: `events is forbidden: User "alice" cannot list resource "events"`},
		Grants:       []v1alpha1.Grant{{Namespace: "payments", ServiceAccount: "janus/janus-req-1", Role: "janus-grant", RoleBinding: "janus-req-1"}},
		Sessions:     []sessionView{{ID: "s1", User: "alice", Pod: "payments/api-0", Command: "sh", StartedAt: now.Add(-5 * time.Minute)}},
	}
	w := httptest.NewRecorder()
	r.render(w, 200, "detail", page{Title: "Request req-1", User: signin.Identity{Username: "carol"}, Data: v})
	body := w.Body.String()
	if w.Code != 200 {
		t.Fatalf("rendering gave %d: %s", w.Code, body)
	}
	for _, want := range []string{
		`id="detail"`, `data-testid="approval-bob"`, `data-testid="timeline"`, `data-testid="events-note"`,
		`data-testid="grant-payments"`, `data-testid="session-s1"`, `action="/requests/req-1/revoke"`,
		`action="/requests/req-1/extend"`, `<option value="7h">`, `name="back" value="/requests/req-1"`,
		`datetime="2026-12-02T04:20:00Z"`, `in 50m`, `Dec 2 04:20:00 UTC`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the detail page lacks %s", want)
		}
	}
	if strings.Contains(body, `/approve"`) {
		t.Error("an active request offers approval")
	}
}
