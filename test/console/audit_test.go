package console

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/infroware/janus/internal/testenv"
)

// consoleAccount is the console's own identity in the central cluster
// (artifacts/console/serviceaccount.yaml).
const consoleAccount = "system:serviceaccount:janus:janus-console"

type consoleAuditEvent = testenv.AuditEvent

// auditEventsIn returns the ResponseComplete events of the audit log at
// path that match accepts.
func auditEventsIn(path string, match func(consoleAuditEvent) bool) ([]consoleAuditEvent, error) {
	return testenv.AuditEvents(path, func(e consoleAuditEvent) bool {
		return e.Stage == "ResponseComplete" && e.ObjectRef != nil && match(e)
	})
}

// createdIn matches the central audit log's event of the create that made
// request name. The aggregator logs only metadata of what it proxies, and a
// generated name is not in the URL, so the event is found by the audit ID
// of janus-apiserver's own event for it, whose body names the request: the
// aggregator hands its audit ID on.
func createdIn(t *testing.T, ctx context.Context, name string) func(consoleAuditEvent) bool {
	t.Helper()
	var auditID string
	err := testenv.WaitUntil(ctx, "janus-apiserver's audit log recording the create of "+name, nil, func(context.Context) error {
		events, err := auditEventsIn(bed.JanusAuditLogPath(), func(e consoleAuditEvent) bool {
			meta, _ := e.ResponseObject["metadata"].(map[string]any)
			return e.Verb == "create" && e.ObjectRef.Resource == "accessrequests" && e.ObjectRef.Subresource == "" && meta["name"] == name
		})
		if err != nil {
			return testenv.Permanent(err)
		}
		if len(events) != 1 {
			return fmt.Errorf("%d create events of %s", len(events), name)
		}
		auditID = events[0].AuditID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return func(e consoleAuditEvent) bool { return e.AuditID == auditID }
}

// TestAuditLogsNameThePersonNotTheConsole: what alice and bob do in the
// console is recorded in the central kube-apiserver's audit log as the
// console's ServiceAccount impersonating each of them, with their groups
// and UID, and in janus-apiserver's own log as the person themselves.
func TestAuditLogsNameThePersonNotTheConsole(t *testing.T) {
	alice := newBrowser(t, "alice")
	alice.signIn("alice")
	name := alice.requestThroughForm(consoleURL, "checking the audit trail")

	bob := newBrowser(t, "bob")
	bob.signIn("bob")
	approve := fmt.Sprintf(`[data-testid="approve-%s"]`, name)
	bob.open("/approvals", approve)
	bob.run("approving",
		chromedp.Click(chromedp.CSS(approve)),
		chromedp.WaitNotPresent(chromedp.CSS(fmt.Sprintf(`[data-testid="pending-%s"]`, name))))

	aliceUser, _ := testenv.UserNamed("alice")
	bobUser, _ := testenv.UserNamed("bob")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The central kube-apiserver: the console's account, impersonating.
	check := func(what, path string, match func(consoleAuditEvent) bool, want func(consoleAuditEvent) error) {
		t.Helper()
		err := testenv.WaitUntil(ctx, what, nil, func(context.Context) error {
			events, err := auditEventsIn(path, match)
			if err != nil {
				return testenv.Permanent(err)
			}
			if len(events) == 0 {
				return fmt.Errorf("no such event yet in %s", path)
			}
			if len(events) > 1 {
				return testenv.Permanent(fmt.Errorf("%d events, want one", len(events)))
			}
			if err := want(events[0]); err != nil {
				return testenv.Permanent(err)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	isCreate := createdIn(t, ctx, name)
	isApprove := func(e consoleAuditEvent) bool {
		return e.Verb == "create" && e.ObjectRef.Resource == "accessrequests" && e.ObjectRef.Subresource == "approve" && e.ObjectRef.Name == name
	}
	impersonating := func(u testenv.User) func(consoleAuditEvent) error {
		return func(e consoleAuditEvent) error {
			switch {
			case e.User.Username != consoleAccount:
				return fmt.Errorf("the event's user is %q, want the console's account %s", e.User.Username, consoleAccount)
			case e.ImpersonatedUser == nil:
				return fmt.Errorf("the event names no impersonated user")
			case e.ImpersonatedUser.Username != u.Name || e.ImpersonatedUser.UID != u.UID:
				return fmt.Errorf("the event's impersonated user is %q (uid %q), want %s (uid %s)", e.ImpersonatedUser.Username, e.ImpersonatedUser.UID, u.Name, u.UID)
			case !slices.Contains(e.ImpersonatedUser.Groups, u.Groups[0]):
				return fmt.Errorf("the impersonated groups are %v, want %s among them", e.ImpersonatedUser.Groups, u.Groups[0])
			case e.ResponseStatus == nil || e.ResponseStatus.Code >= 300:
				return fmt.Errorf("the event's response status is %+v, want success", e.ResponseStatus)
			}
			return nil
		}
	}
	check("the central audit log records alice's request as the console impersonating her", bed.AuditLogPath(), isCreate, impersonating(aliceUser))
	check("the central audit log records bob's approval as the console impersonating him", bed.AuditLogPath(), isApprove, impersonating(bobUser))

	// janus-apiserver sees only the person: the aggregator hands it the
	// impersonated identity, never the console's.
	check("janus-apiserver's audit log records bob himself approving", bed.JanusAuditLogPath(), isApprove, func(e consoleAuditEvent) error {
		if e.User.Username != "bob" || e.ImpersonatedUser != nil {
			return fmt.Errorf("janus-apiserver recorded user %q (impersonated %+v), want bob and no impersonation", e.User.Username, e.ImpersonatedUser)
		}
		return nil
	})
}
