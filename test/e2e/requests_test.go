package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// accessRequest is the part of an AccessRequest manifest a test varies.
type accessRequest struct {
	cluster    string
	namespaces []string
	duration   string
	reason     string
	// extra is appended to the spec verbatim, e.g. a requester the server
	// must ignore.
	extra string
}

func (r accessRequest) manifest() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: janus.infroware.io/v1alpha1\nkind: AccessRequest\nmetadata:\n  generateName: e2e-\nspec:\n")
	fmt.Fprintf(&b, "  cluster: %s\n", r.cluster)
	if len(r.namespaces) > 0 {
		fmt.Fprintf(&b, "  namespaces: [%s]\n", strings.Join(r.namespaces, ", "))
	}
	if r.duration != "" {
		fmt.Fprintf(&b, "  duration: %s\n", r.duration)
	}
	if r.reason != "" {
		fmt.Fprintf(&b, "  reason: %q\n", r.reason)
	}
	b.WriteString(r.extra)
	return b.String()
}

// devRequest is a valid request for cluster dev.
func devRequest() accessRequest {
	return accessRequest{cluster: "dev", namespaces: []string{"payments"}, duration: "1h", reason: "e2e: look at payments"}
}

// createRequest creates r as user with kubectl create -f and returns the
// generated name.
func createRequest(t *testing.T, user string, r accessRequest) string {
	t.Helper()
	path := writeFile(t, "accessrequest.yaml", r.manifest())
	name := strings.TrimSpace(mustKubectl(t, user, "create", "-f", path, "-o", "jsonpath={.metadata.name}"))
	if name == "" {
		t.Fatalf("kubectl create printed no name")
	}
	return name
}

// approve posts artifacts/examples/approval.json to the request's approve
// subresource as user, as the playground tells people to.
func approve(t *testing.T, user, name string) kubectlResult {
	t.Helper()
	return kubectl(t, user, "create", "--raw", "/apis/janus.infroware.io/v1alpha1/accessrequests/"+name+"/approve",
		"-f", repoFile("artifacts/examples/approval.json"))
}

// field reads a JSONPath of a request as admin.
func field(t *testing.T, name, jsonpath string) string {
	t.Helper()
	return mustKubectl(t, "admin", "get", "accessrequests.janus.infroware.io", name, "-o", "jsonpath="+jsonpath)
}

// expectPhase checks the request's phase as admin sees it.
func expectPhase(t *testing.T, name, want string) {
	t.Helper()
	if got := field(t, name, "{.status.phase}"); got != want {
		t.Errorf("phase of %s = %q, want %q", name, got, want)
	}
}

// expectApproved checks that the request was approved: for dev, whose
// agent is connected, it may already be Active.
func expectApproved(t *testing.T, name string) {
	t.Helper()
	if got := field(t, name, "{.status.phase}"); got != "Approved" && got != "Active" {
		t.Errorf("phase of %s = %q, want Approved or Active", name, got)
	}
}
