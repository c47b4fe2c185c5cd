package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestApproveByClusterApprover follows the playground's walkthrough: alice
// files the example request for dev, bob (approver for dev) approves it.
func TestApproveByClusterApprover(t *testing.T) {
	t.Parallel()
	name := strings.TrimSpace(mustKubectl(t, "alice", "create", "-f", repoFile("artifacts/examples/accessrequest.yaml"), "-o", "jsonpath={.metadata.name}"))

	res := approve(t, "bob", name)
	if res.err != nil {
		t.Fatalf("bob approving %s: %v\n%s", name, res.err, res.output())
	}
	if !strings.Contains(res.stdout, `"phase":"Approved"`) {
		t.Errorf("the approve response is not the approved request:\n%s", res.stdout)
	}
	expectApproved(t, name)
	if got := field(t, name, "{.status.approvals[*].user}"); got != "bob" {
		t.Errorf("approvals by %q, want bob", got)
	}
}

func TestClusterWideApproverApprovesProd(t *testing.T) {
	t.Parallel()
	r := devRequest()
	r.cluster = "prod"
	name := createRequest(t, "alice", r)

	if res := approve(t, "carol", name); res.err != nil {
		t.Fatalf("carol approving %s: %v\n%s", name, res.err, res.output())
	}
	expectApproved(t, name)
}

func TestApproveForbiddenOutsideApproversClusters(t *testing.T) {
	t.Parallel()
	r := devRequest()
	r.cluster = "prod"
	name := createRequest(t, "alice", r)

	expectFailure(t, approve(t, "bob", name), "forbidden", `cannot approve access to cluster "prod"`)
	expectPhase(t, name, "Pending")
}

func TestApproveRejectsSelfApproval(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "carol", devRequest())

	expectFailure(t, approve(t, "carol", name), "forbidden", "own request")
	expectPhase(t, name, "Pending")
}

// TestRequesterCannotApprove: janus-requester has no create on
// accessrequests/approve, so the kube-apiserver refuses before Janus sees
// the request.
func TestRequesterCannotApprove(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "alice", devRequest())

	expectFailure(t, approve(t, "alice", name), "forbidden", `User "alice" cannot create resource "accessrequests/approve"`)
	expectPhase(t, name, "Pending")
}

func TestCanIApproveFollowsRBAC(t *testing.T) {
	t.Parallel()
	cases := []struct {
		user, cluster string
		want          string
	}{
		{"bob", "dev", "yes"},
		{"bob", "prod", "no"},
		{"carol", "prod", "yes"},
		{"alice", "dev", "no"},
		{"dave", "dev", "no"},
	}
	for _, tc := range cases {
		res := kubectl(t, "admin", "auth", "can-i", "approve", "clusters.janus.infroware.io/"+tc.cluster, "--as", tc.user)
		got := strings.TrimSpace(res.stdout)
		if got != tc.want {
			t.Errorf("can %s approve for %s? kubectl says %q, want %q (%v)", tc.user, tc.cluster, got, tc.want, res.err)
		}
		// kubectl auth can-i exits 0 for yes and 1 for no.
		if (res.err == nil) != (tc.want == "yes") {
			t.Errorf("can %s approve for %s: exit status %v does not match %q", tc.user, tc.cluster, res.err, tc.want)
		}
	}
}

func TestWatchSeesPendingThenApproved(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "alice", devRequest())

	w := startWatch(t, "alice", "get", "ar", name, "-w")
	w.waitForLine(t, name, "alice", "dev", "Pending")

	if res := approve(t, "bob", name); res.err != nil {
		t.Fatalf("bob approving %s: %v\n%s", name, res.err, res.output())
	}
	w.waitForLine(t, name, "Approved")
}

// TestDescribeTellsTheStory: every step leaves an Event on the request, so
// kubectl describe shows who asked and who decided.
func TestDescribeTellsTheStory(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "alice", devRequest())
	if res := approve(t, "bob", name); res.err != nil {
		t.Fatalf("bob approving %s: %v\n%s", name, res.err, res.output())
	}
	eventually(t, "describe shows the Requested and Approved events", func() error {
		out := mustKubectl(t, "admin", "describe", "accessrequest", name)
		for _, want := range []string{"Requested", "alice requested access", "Approved", "approved by bob"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("describe lacks %q:\n%s", want, out)
			}
		}
		return nil
	})
}

// TestWideListingShowsApprovals: kubectl get -o wide shows the approvals a
// request has of those it needs, fixed when it was made.
func TestWideListingShowsApprovals(t *testing.T) {
	t.Parallel()
	name := createRequest(t, "alice", devRequest())
	row := func() []string {
		out := mustKubectl(t, "alice", "get", "accessrequests.janus.infroware.io", name, "-o", "wide", "--no-headers")
		return strings.Fields(out)
	}
	if got := row(); len(got) == 0 || got[len(got)-1] != "0/1" {
		t.Errorf("wide row %v, want APPROVALS 0/1 last", got)
	}
	if res := approve(t, "bob", name); res.err != nil {
		t.Fatalf("bob approving %s: %v\n%s", name, res.err, res.output())
	}
	if got := row(); len(got) == 0 || got[len(got)-1] != "1/1" {
		t.Errorf("wide row %v after bob approved, want APPROVALS 1/1 last", got)
	}
}
