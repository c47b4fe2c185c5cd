package e2e

import (
	"strings"
	"testing"

	"github.com/infroware/janus/internal/testenv"
)

func TestCreateStampsRequesterFromCredentials(t *testing.T) {
	t.Parallel()
	r := devRequest()
	r.extra = "  requester:\n    username: mallory\n    uid: mallory-uid\n    groups: [system:masters]\n"
	name := createRequest(t, "alice", r)

	alice, _ := testenv.UserNamed("alice")
	if got, want := field(t, name, "{.spec.requester.username}/{.spec.requester.uid}"), alice.Name+"/"+alice.UID; got != want {
		t.Errorf("stored requester = %s, want %s: the identity in the body must be replaced by the caller's", got, want)
	}
	groups := field(t, name, "{.spec.requester.groups}")
	if !strings.Contains(groups, "engineers") || strings.Contains(groups, "system:masters") {
		t.Errorf("stored requester groups = %s, want alice's groups (engineers), not the claimed system:masters", groups)
	}
	expectPhase(t, name, "Pending")
}

func TestGetPrintsRequestColumns(t *testing.T) {
	t.Parallel()
	r := devRequest()
	r.namespaces = []string{"default", "payments"}
	name := createRequest(t, "alice", r)

	out := mustKubectl(t, "alice", "get", "ar", name)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("kubectl get ar printed %d lines, want a header and one row:\n%s", len(lines), out)
	}
	header := strings.Join(strings.Fields(lines[0]), " ")
	if want := "NAME REQUESTER CLUSTER NAMESPACES PHASE EXPIRES AGE"; header != want {
		t.Errorf("header = %q, want %q", header, want)
	}
	row := strings.Fields(lines[1])
	want := []string{name, "alice", "dev", "default,payments", "Pending", "<none>"}
	if len(row) != len(want)+1 || strings.Join(row[:len(want)], " ") != strings.Join(want, " ") {
		t.Errorf("row = %q, want %q followed by the age", row, want)
	}
}

func TestExplainDescribesRequestSpec(t *testing.T) {
	t.Parallel()
	out := mustKubectl(t, "alice", "explain", "accessrequest.spec")
	for _, want := range []string{"AccessRequest", "cluster", "namespaces", "duration", "reason", "requester"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl explain accessrequest.spec does not mention %q:\n%s", want, out)
		}
	}
}

func TestCreateRejectsInvalidRequestsWithFieldPaths(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(*accessRequest)
		want   []string
	}{
		{"excluded namespace", func(r *accessRequest) { r.namespaces = []string{"kube-system"} }, []string{"spec.namespaces[0]", "kube-system"}},
		{"second namespace excluded", func(r *accessRequest) { r.namespaces = []string{"payments", "janus"} }, []string{"spec.namespaces[1]", "janus"}},
		{"namespace not a DNS label", func(r *accessRequest) { r.namespaces = []string{"Payments_EU"} }, []string{"spec.namespaces[0]"}},
		{"no namespaces", func(r *accessRequest) { r.namespaces = nil }, []string{"spec.namespaces", "Required value"}},
		{"missing reason", func(r *accessRequest) { r.reason = "" }, []string{"spec.reason", "Required value"}},
		{"duration below the minimum", func(r *accessRequest) { r.duration = "2s" }, []string{"spec.duration"}},
		{"duration above the maximum", func(r *accessRequest) { r.duration = "24h" }, []string{"spec.duration"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := devRequest()
			tc.change(&r)
			res := kubectl(t, "alice", "create", "-f", writeFile(t, "invalid.yaml", r.manifest()))
			expectFailure(t, res, append([]string{"The AccessRequest", "is invalid"}, tc.want...)...)
		})
	}
}

func TestCreateNeedsRequesterRole(t *testing.T) {
	t.Parallel()
	res := kubectl(t, "dave", "create", "-f", writeFile(t, "request.yaml", devRequest().manifest()))
	expectFailure(t, res, "forbidden", `User "dave" cannot create resource "accessrequests"`)
}
