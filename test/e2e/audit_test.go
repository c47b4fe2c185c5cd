package e2e

import (
	"fmt"
	"testing"

	"github.com/infroware/janus/internal/testenv"
)

type auditEvent = testenv.AuditEvent

func isApproval(e auditEvent, name string) bool {
	return e.Stage == "ResponseComplete" && e.Verb == "create" && e.ObjectRef != nil &&
		e.ObjectRef.APIGroup == "janus.infroware.io" && e.ObjectRef.Resource == "accessrequests" &&
		e.ObjectRef.Subresource == "approve" && e.ObjectRef.Name == name
}

// findAuditEvent returns the first event in the audit log at path that
// match accepts.
func findAuditEvent(path string, match func(auditEvent) bool) (*auditEvent, error) {
	events, err := testenv.AuditEvents(path, match)
	if err != nil || len(events) == 0 {
		return nil, err
	}
	return &events[0], nil
}

func TestAuditLogRecordsApprover(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "alice", devRequest())
	if res := approve(t, "bob", name); res.err != nil {
		t.Fatalf("bob approving %s: %v\n%s", name, res.err, res.output())
	}

	// The central kube-apiserver's audit log, which cluster operators
	// already collect, names who approved.
	eventually(t, "the kube-apiserver audit log records bob's approval of "+name, func() error {
		e, err := findAuditEvent(bed.AuditLogPath(), func(e auditEvent) bool { return isApproval(e, name) })
		switch {
		case err != nil:
			return err
		case e == nil:
			return fmt.Errorf("no approve event for %s in %s", name, bed.AuditLogPath())
		case e.User.Username != "bob":
			return fmt.Errorf("the approve event names %q, want bob", e.User.Username)
		case e.ResponseStatus == nil || e.ResponseStatus.Code >= 300:
			return fmt.Errorf("the approve event has response status %+v, want success", e.ResponseStatus)
		}
		return nil
	})

	// janus-apiserver's own audit log, with the same policy, also keeps
	// the body: the reason the approver gave.
	eventually(t, "the janus-apiserver audit log records the approval's reason", func() error {
		e, err := findAuditEvent(bed.JanusAuditLogPath(), func(e auditEvent) bool { return isApproval(e, name) })
		switch {
		case err != nil:
			return err
		case e == nil:
			return fmt.Errorf("no approve event for %s in %s", name, bed.JanusAuditLogPath())
		case e.User.Username != "bob":
			return fmt.Errorf("the approve event names %q, want bob", e.User.Username)
		case e.RequestObject["reason"] == nil || e.RequestObject["reason"] == "":
			return fmt.Errorf("the approve event has no reason in its request object: %v", e.RequestObject)
		}
		return nil
	})
}
