package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/infroware/janus/pkg/agent/internal/targetcluster"
	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/install"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/tunnel"
)

var artifactsDir = filepath.Join("..", "..", "artifacts", "agent")

// targetManifests are the files applied to a target cluster; cluster.yaml
// goes to the central one.
var targetManifests = []string{"namespace.yaml", "serviceaccount.yaml", "rbac.yaml", "deployment.yaml"}

// readManifests decodes every document of the files.
func readManifests(t *testing.T, files ...string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(artifactsDir, f))
		if err != nil {
			t.Fatal(err)
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			err := decoder.Decode(&obj.Object)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("decoding %s: %v", f, err)
			}
			if len(obj.Object) > 0 {
				objs = append(objs, obj)
			}
		}
	}
	return objs
}

// warningRecorder collects the API server's warnings, Pod Security's among
// them.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

// applyAgentArtifacts applies the target cluster's manifests as the admin,
// with server-side apply, and fails on any warning.
func applyAgentArtifacts(t *testing.T, ctx context.Context, c *targetcluster.Cluster) {
	t.Helper()
	warnings := &warningRecorder{}
	config := rest.CopyConfig(c.AdminConfig)
	config.WarningHandler = warnings
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Admin.Discovery()))
	for _, obj := range readManifests(t, targetManifests...) {
		gvk := obj.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("mapping %s: %v", gvk, err)
		}
		var resource dynamic.ResourceInterface = client.Resource(mapping.Resource)
		if ns := obj.GetNamespace(); ns != "" {
			resource = client.Resource(mapping.Resource).Namespace(ns)
		}
		if _, err := resource.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: "janus-agent-test", Force: true}); err != nil {
			t.Fatalf("applying %s %s: %v", gvk.Kind, obj.GetName(), err)
		}
	}
	if len(warnings.warnings) > 0 {
		t.Errorf("applying artifacts/agent drew warnings: %q", warnings.warnings)
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
		{verb: "create", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "create", resource: "serviceaccounts", subresource: "token", namespace: agentNS},
	}, []access{
		// Neither escalate nor bind: the agent cannot hand out what it
		// does not hold itself.
		{verb: "escalate", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "bind", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "escalate", group: rbacGroup, resource: "clusterroles"},
		{verb: "bind", group: rbacGroup, resource: "clusterroles"},
		{verb: "create", group: rbacGroup, resource: "clusterroles"},
		{verb: "create", group: rbacGroup, resource: "clusterrolebindings"},
		{verb: "patch", group: rbacGroup, resource: "roles", namespace: payments},
		{verb: "watch", group: rbacGroup, resource: "roles"},
		{verb: "deletecollection", group: rbacGroup, resource: "rolebindings", namespace: payments},
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
	if _, err := c.Admin.RbacV1().Roles(orders).Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "janus-" + blocked}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Ensure(ctx, grantSpec(blocked, payments, orders)); err == nil {
		t.Error("Ensure over a foreign Role succeeded")
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

// rbacRules flattens the rules of the ClusterRole or Role named kind in
// rbac.yaml into "group/resource verb" strings.
func rbacRules(t *testing.T, kind string) sets.Set[string] {
	t.Helper()
	rules := sets.New[string]()
	found := false
	for _, obj := range readManifests(t, "rbac.yaml") {
		if obj.GetKind() != kind {
			continue
		}
		found = true
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
			t.Fatal(err)
		}
		rules = rules.Union(flattenRules(role.Rules))
	}
	if !found {
		t.Fatalf("rbac.yaml has no %s", kind)
	}
	return rules
}

func flattenRules(rules []rbacv1.PolicyRule) sets.Set[string] {
	out := sets.New[string]()
	for _, r := range rules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					out.Insert(fmt.Sprintf("%s/%s %s", g, res, v))
				}
			}
		}
	}
	return out
}

// TestAgentRBACHoldsNothingBeyondWhatItNeeds pins the artifact's rules: the
// grant rules (which the escalation check requires), its own objects, and
// namespaces. A new rule must come with a reason and a change here.
func TestAgentRBACHoldsNothingBeyondWhatItNeeds(t *testing.T) {
	wantClusterWide := flattenRules(GrantRules()).Union(flattenRules([]rbacv1.PolicyRule{
		{APIGroups: []string{"rbac.authorization.k8s.io"}, Resources: []string{"roles", "rolebindings"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}},
	}))
	if got := rbacRules(t, "ClusterRole"); !got.Equal(wantClusterWide) {
		t.Errorf("ClusterRole janus-agent: extra %v, missing %v", sets.List(got.Difference(wantClusterWide)), sets.List(wantClusterWide.Difference(got)))
	}
	wantOwnNamespace := flattenRules([]rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts"}, Verbs: []string{"create", "delete", "get", "list", "update"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts/token"}, Verbs: []string{"create"}},
	})
	if got := rbacRules(t, "Role"); !got.Equal(wantOwnNamespace) {
		t.Errorf("Role janus-agent: extra %v, missing %v", sets.List(got.Difference(wantOwnNamespace)), sets.List(wantOwnNamespace.Difference(got)))
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
	var versioned v1alpha1.Cluster
	decoder := json.NewDecoder(bytes.NewReader(jsonData))
	decoder.DisallowUnknownFields()
	if err := decoder.Decode(&versioned); err != nil {
		t.Fatalf("cluster.yaml is not a v1alpha1 Cluster: %v", err)
	}
	if versioned.APIVersion != v1alpha1.SchemeGroupVersion.String() || versioned.Kind != "Cluster" {
		t.Errorf("cluster.yaml is a %s %s", versioned.APIVersion, versioned.Kind)
	}
	scheme := runtime.NewScheme()
	install.Install(scheme)
	scheme.Default(&versioned)
	var internal janus.Cluster
	if err := scheme.Convert(&versioned, &internal, nil); err != nil {
		t.Fatal(err)
	}
	if errs := validation.ValidateCluster(&internal); len(errs) > 0 {
		t.Errorf("cluster.yaml is invalid: %v", errs.ToAggregate())
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
	if versioned.Spec.Agent.Issuer != targetcluster.ServiceAccountIssuer {
		t.Errorf("spec.agent.issuer %q, want the usual %q", versioned.Spec.Agent.Issuer, targetcluster.ServiceAccountIssuer)
	}
}
