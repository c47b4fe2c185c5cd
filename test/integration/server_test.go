package integration

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/cmd/server"
	"github.com/infroware/janus/test/integration/framework"
)

func TestAllowSelfApprovalFlag(t *testing.T) {
	e := newEnv(t, framework.SQLite, func(o *server.JanusServerOptions) { o.AllowSelfApproval = true })
	ar := create(t, e.carol, request("dev", time.Hour, "payments"))
	got, err := e.carol.JanusV1alpha1().AccessRequests().Approve(ctx(t), ar.Name, &v1alpha1.Approval{}, metav1.CreateOptions{})
	mustSucceed(t, "self-approval with --allow-self-approval", got, err)
	if got.Status.Phase != v1alpha1.AccessRequestApproved {
		t.Errorf("phase = %s, want Approved", got.Status.Phase)
	}
}

func TestServedMetadata(t *testing.T) {
	e := newEnv(t, framework.SQLite)
	create(t, e.alice, request("dev", time.Hour, "payments"))
	httpClient, err := rest.HTTPClientFor(e.server.Config(alice))
	if err != nil {
		t.Fatal(err)
	}
	get := func(t *testing.T, path, accept string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.server.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		return body
	}

	t.Run("Discovery", func(t *testing.T) {
		dc, err := discovery.NewDiscoveryClientForConfig(e.server.Config(alice))
		if err != nil {
			t.Fatal(err)
		}
		list, err := dc.ServerResourcesForGroupVersion(v1alpha1.SchemeGroupVersion.String())
		if err != nil {
			t.Fatalf("discovery: %v", err)
		}
		var names []string
		for _, r := range list.APIResources {
			names = append(names, r.Name)
			if r.Name == "accessrequests" && (r.Namespaced || !slices.Contains(r.ShortNames, "ar")) {
				t.Errorf("accessrequests: namespaced=%v shortNames=%v, want cluster-scoped with short name ar", r.Namespaced, r.ShortNames)
			}
		}
		for _, want := range []string{"accessrequests", "accessrequests/status", "accessrequests/approve", "accessrequests/deny", "accessrequests/revoke", "accessrequests/withdraw", "accessrequests/extend", "clusters", "clusters/status", "clusters/agent"} {
			if !slices.Contains(names, want) {
				t.Errorf("discovery lacks %s (has %v)", want, names)
			}
		}
	})

	t.Run("TableColumns", func(t *testing.T) {
		body := get(t, "/apis/janus.infroware.io/v1alpha1/accessrequests", "application/json;as=Table;v=v1;g=meta.k8s.io")
		var table metav1.Table
		if err := json.Unmarshal(body, &table); err != nil {
			t.Fatalf("decoding table: %v", err)
		}
		var cols []string
		for _, c := range table.ColumnDefinitions {
			cols = append(cols, strings.ToUpper(c.Name))
		}
		// APPROVALS is for -o wide (priority 1).
		if got, want := strings.Join(cols, ","), "NAME,REQUESTER,CLUSTER,NAMESPACES,PHASE,EXPIRES,AGE,APPROVALS"; got != want {
			t.Errorf("columns = %s, want %s", got, want)
		}
		if len(table.Rows) == 0 || table.Rows[0].Cells[1] != "alice" || table.Rows[0].Cells[4] != "Pending" || table.Rows[0].Cells[7] != "0/1" {
			t.Errorf("rows = %+v, want alice's Pending request with 0/1 approvals", table.Rows)
		}
	})

	t.Run("OpenAPIv2", func(t *testing.T) {
		body := string(get(t, "/openapi/v2", "application/json"))
		for _, want := range []string{"AccessRequestSpec", `"kind": "AccessRequest"`, "/apis/janus.infroware.io/v1alpha1/accessrequests/{name}/approve"} {
			if !strings.Contains(body, want) && !strings.Contains(strings.ReplaceAll(body, `":"`, `": "`), want) {
				t.Errorf("OpenAPI v2 lacks %s", want)
			}
		}
	})

	t.Run("ServerSideApply", func(t *testing.T) {
		apply := []byte(`{"apiVersion":"janus.infroware.io/v1alpha1","kind":"Cluster","metadata":{"name":"staging"},"spec":{"displayName":"Staging","approval":{"required":1}}}`)
		got, err := e.admin.JanusV1alpha1().Clusters().Patch(ctx(t), "staging", types.ApplyPatchType, apply, metav1.PatchOptions{FieldManager: "e2e", Force: ptr.To(true)})
		if err != nil {
			t.Fatalf("server-side apply of a Cluster: %v", err)
		}
		if len(got.ManagedFields) == 0 || got.ManagedFields[0].Manager != "e2e" {
			t.Errorf("managedFields = %+v, want an entry for the e2e manager", got.ManagedFields)
		}
	})

	t.Run("OpenAPIv3", func(t *testing.T) {
		body := string(get(t, "/openapi/v3/apis/janus.infroware.io/v1alpha1", "application/json"))
		// The GVK extension is what kubectl explain and server-side apply
		// look types up by.
		for _, want := range []string{"AccessRequestSpec", "requester", "/apis/janus.infroware.io/v1alpha1/accessrequests/{name}/withdraw", `"x-kubernetes-group-version-kind":[{"group":"janus.infroware.io","kind":"AccessRequest","version":"v1alpha1"}]`} {
			if !strings.Contains(body, want) {
				t.Errorf("OpenAPI v3 lacks %s", want)
			}
		}
	})
}
