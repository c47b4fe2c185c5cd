package agent

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	"github.com/infroware/janus/internal/testenv"
	"github.com/infroware/janus/pkg/tunnel"
)

var artifactsDir = filepath.Join("..", "..", "artifacts", "agent")

// targetManifests are the files applied to a target cluster; cluster.yaml
// goes to the central one.
var targetManifests = []string{"namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "deployment.yaml"}

// readManifests decodes every document of the files.
func readManifests(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(artifactsDir, f))
	}
	objs, err := testenv.ReadManifests(paths...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// applyAgentArtifacts applies the target cluster's manifests as the admin.
func applyAgentArtifacts(t *testing.T, ctx context.Context, c *testenv.BareCluster) {
	t.Helper()
	applyManifests(t, ctx, c, readManifests(t, targetManifests...))
}

// applyGrantClusterRole applies the ClusterRole janus-grant of rbac.yaml
// as the admin, as shipped: every grant binds it.
func applyGrantClusterRole(t *testing.T, ctx context.Context, c *testenv.BareCluster) {
	t.Helper()
	applyManifests(t, ctx, c, []*unstructured.Unstructured{rbacObject(t, "ClusterRole", GrantClusterRole)})
}

// applyManifests applies objs as the admin, with server-side apply, and
// fails on any warning.
func applyManifests(t *testing.T, ctx context.Context, c *testenv.BareCluster, objs []*unstructured.Unstructured) {
	t.Helper()
	warnings := &testenv.WarningRecorder{}
	config := rest.CopyConfig(c.AdminConfig)
	config.WarningHandler = warnings
	applier, err := testenv.NewApplier(config)
	if err != nil {
		t.Fatal(err)
	}
	if err := applier.Apply(ctx, objs); err != nil {
		t.Fatal(err)
	}
	if w := warnings.Warnings(); len(w) > 0 {
		t.Errorf("applying artifacts/agent drew warnings: %q", w)
	}
}

func TestAgentRBACFromArtifactsIsEnough(t *testing.T) {
	c := targetCluster(t)
	ctx := testContext(t)
	applyAgentArtifacts(t, ctx, c)
	const agentNS = "janus"
	payments, orders := newNamespace(t, ctx, c.Admin, "payments"), newNamespace(t, ctx, c.Admin, "orders")

	agent := clientForToken(t, c, serviceAccountToken(t, ctx, c, agentNS, "janus-agent"))
	waitUntilAuthenticatesAs(t, ctx, agent, "system:serviceaccount:janus:janus-agent")
	const rbacGroup = "rbac.authorization.k8s.io"
	requireAccess(t, ctx, agent, []access{
		// One permission from each binding, so that both have reached the
		// API server's RBAC cache before the agent works.
		{verb: "create", group: rbacGroup, resource: "rolebindings", namespace: payments},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: agentNS},
		{verb: "bind", group: rbacGroup, resource: "clusterroles", name: GrantClusterRole},
	}, []access{
		// No escalate at all, and bind on janus-grant alone: the agent
		// can hand out the grant rules and nothing else.
		{verb: "escalate", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "escalate", group: rbacGroup, resource: "clusterroles"},
		{verb: "escalate", group: rbacGroup, resource: "clusterroles", name: GrantClusterRole},
		{verb: "bind", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "bind", group: rbacGroup, resource: "clusterroles"},
		{verb: "bind", group: rbacGroup, resource: "clusterroles", name: "admin"},
		{verb: "bind", group: rbacGroup, resource: "clusterroles", name: "cluster-admin"},
		{verb: "bind", group: rbacGroup, resource: "clusterroles", name: "janus-agent"},
		{verb: "update", group: rbacGroup, resource: "clusterroles", name: GrantClusterRole},
		{verb: "patch", group: rbacGroup, resource: "clusterroles", name: GrantClusterRole},
		{verb: "delete", group: rbacGroup, resource: "clusterroles", name: GrantClusterRole},
		{verb: "create", group: rbacGroup, resource: "clusterroles"},
		{verb: "create", group: rbacGroup, resource: "clusterrolebindings"},
		{verb: "create", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "get", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "patch", group: rbacGroup, resource: "rolebindings", namespace: payments},
		{verb: "watch", group: rbacGroup, resource: "rolebindings"},
		{verb: "deletecollection", group: rbacGroup, resource: "rolebindings", namespace: payments},
		// None of the grant rules: the agent cannot exec anywhere itself.
		{verb: "create", resource: "pods", subresource: "exec", namespace: payments},
		{verb: "create", resource: "pods", subresource: "exec", namespace: "kube-system"},
		{verb: "get", resource: "pods", subresource: "log", namespace: payments},
		{verb: "list", resource: "pods", namespace: payments},
		{verb: "get", resource: "pods", namespace: payments},
		{verb: "list", resource: "events", namespace: payments},
		{verb: "impersonate", resource: "users"},
		{verb: "impersonate", resource: "serviceaccounts", namespace: agentNS},
		{verb: "get", resource: "secrets", namespace: payments},
		{verb: "list", resource: "secrets", namespace: agentNS},
		{verb: "create", resource: "pods", namespace: payments},
		{verb: "delete", resource: "pods", namespace: payments},
		{verb: "create", resource: "pods", subresource: "attach", namespace: payments},
		{verb: "create", resource: "pods", subresource: "portforward", namespace: payments},
		{verb: "create", resource: "serviceaccounts", namespace: payments},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: payments},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: "kube-system"},
		{verb: "delete", resource: "namespaces", name: payments},
		{verb: "update", resource: "namespaces", name: payments},
		{verb: "create", group: "apps", resource: "deployments", namespace: agentNS},
	})

	p := NewProvisioner(agent, agentNS, DefaultExcludedNamespaces)
	// The namespace watch lists and watches as the agent, too.
	watchNamespaces(t, ctx, p)
	if _, err := p.Info(ctx); err != nil {
		t.Errorf("Info: %v", err)
	}

	request, leftover, blocked := newRequestName("alice"), newRequestName("ended"), newRequestName("blocked")
	removeOnCleanup(t, c, agentNS, request, leftover, blocked)
	spec := grantSpec(request, payments, orders)
	for _, s := range []tunnel.GrantSpec{spec, grantSpec(leftover, payments)} {
		if _, err := p.Ensure(ctx, s); err != nil {
			t.Fatalf("Ensure %s as the agent: %v", s.Request, err)
		}
	}
	token, _ := p.Token(request)
	user := clientForToken(t, c, token)
	waitUntilAuthenticatesAs(t, ctx, user, "system:serviceaccount:janus:janus-"+request)
	requireAccess(t, ctx, user, []access{{verb: "create", resource: "pods", subresource: "exec", namespace: orders}}, nil)

	// Refreshing updates every object.
	if _, err := p.Ensure(ctx, spec); err != nil {
		t.Errorf("Ensure again as the agent: %v", err)
	}
	// Undoing a failed grant deletes what it made.
	if _, err := c.Admin.RbacV1().RoleBindings(orders).Create(ctx, foreignRoleBinding("janus-"+blocked, orders), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ensure(ctx, grantSpec(blocked, payments, orders)); err == nil {
		t.Error("Ensure over a foreign RoleBinding succeeded")
	}
	requireNoGrantObjects(t, ctx, c.Admin, blocked)

	result, err := p.Reconcile(ctx, tunnel.ReconcileRequest{Active: []tunnel.GrantSpec{spec}})
	if err != nil || len(result.Failed) > 0 || !slices.Contains(result.Removed, leftover) {
		t.Errorf("Reconcile as the agent: %+v, %v; want %s removed and nothing failed", result, err, leftover)
	}
	if err := p.Remove(ctx, request); err != nil {
		t.Errorf("Remove as the agent: %v", err)
	}
	requireNoGrantObjects(t, ctx, c.Admin, request)
}

// rbacObject is the object of that kind and name in rbac.yaml.
func rbacObject(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, obj := range readManifests(t, "rbac.yaml") {
		if obj.GetKind() == kind && obj.GetName() == name {
			return obj
		}
	}
	t.Fatalf("rbac.yaml has no %s %s", kind, name)
	return nil
}

// rbacRole is the ClusterRole or Role of that name in rbac.yaml.
func rbacRole(t *testing.T, kind, name string) rbacv1.ClusterRole {
	t.Helper()
	var role rbacv1.ClusterRole
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(rbacObject(t, kind, name).Object, &role); err != nil {
		t.Fatal(err)
	}
	return role
}

// TestAgentRBACHoldsNothingBeyondWhatItNeeds pins the artifact's rules for
// the agent: its own objects, bind on janus-grant, and namespaces. A new
// rule must come with a reason and a change here.
func TestAgentRBACHoldsNothingBeyondWhatItNeeds(t *testing.T) {
	wantClusterWide := permissions([]rbacv1.PolicyRule{
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"rolebindings"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"clusterroles"}, ResourceNames: []string{GrantClusterRole}, Verbs: []string{"bind", "get"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
	})
	if got := permissions(rbacRole(t, "ClusterRole", "janus-agent").Rules); !got.Equal(wantClusterWide) {
		t.Errorf("ClusterRole janus-agent: extra %v, missing %v", sets.List(got.Difference(wantClusterWide)), sets.List(wantClusterWide.Difference(got)))
	}
	wantOwnNamespace := permissions([]rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
	})
	if got := permissions(rbacRole(t, "Role", "janus-agent").Rules); !got.Equal(wantOwnNamespace) {
		t.Errorf("Role janus-agent: extra %v, missing %v", sets.List(got.Difference(wantOwnNamespace)), sets.List(wantOwnNamespace.Difference(got)))
	}
}

// TestGrantClusterRoleHoldsExactlyGrantRules pins the shipped ClusterRole
// every grant binds to GrantRules, which the agent checks it against, and
// makes sure rbac.yaml binds it to no one.
func TestGrantClusterRoleHoldsExactlyGrantRules(t *testing.T) {
	role := rbacRole(t, "ClusterRole", GrantClusterRole)
	if !reflect.DeepEqual(role.Rules, GrantRules()) {
		t.Errorf("ClusterRole %s has rules %+v, want GrantRules() %+v", GrantClusterRole, role.Rules, GrantRules())
	}
	if role.AggregationRule != nil {
		t.Errorf("ClusterRole %s aggregates other roles: %+v", GrantClusterRole, role.AggregationRule)
	}
	for _, obj := range readManifests(t, targetManifests...) {
		if ref, _, _ := unstructured.NestedString(obj.Object, "roleRef", "name"); ref == GrantClusterRole {
			t.Errorf("%s %s binds %s; only the agent's per-request RoleBindings may", obj.GetKind(), obj.GetName(), GrantClusterRole)
		}
	}
}

func TestClusterExampleIsAValidCluster(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(artifactsDir, "cluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	jsonData, err := utilyaml.ToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	versioned, err := testenv.DecodeCluster(jsonData)
	if versioned == nil {
		t.Fatalf("cluster.yaml: %v", err)
	}
	if err != nil {
		t.Errorf("cluster.yaml is %v", err)
	}

	// It must name the agent the target manifests create.
	var sa string
	for _, obj := range readManifests(t, "serviceaccount.yaml") {
		sa = obj.GetNamespace() + "/" + obj.GetName()
	}
	if versioned.Spec.Agent.ServiceAccount != sa {
		t.Errorf("spec.agent.serviceAccount %q, but serviceaccount.yaml creates %q", versioned.Spec.Agent.ServiceAccount, sa)
	}
	if !slices.Contains(versioned.Spec.ExcludedNamespaces, strings.Split(sa, "/")[0]) {
		t.Errorf("spec.excludedNamespaces %v lack the agent's namespace", versioned.Spec.ExcludedNamespaces)
	}
	if versioned.Spec.Agent.Issuer != testenv.ServiceAccountIssuer {
		t.Errorf("spec.agent.issuer %q, want the usual %q", versioned.Spec.Agent.Issuer, testenv.ServiceAccountIssuer)
	}
}
