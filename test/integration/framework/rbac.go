package framework

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	"github.com/infroware/janus/internal/testenv"
)

// RepoRoot is the root of the Janus repository, found from the test's
// working directory.
func RepoRoot() string {
	root, err := testenv.FindRepoRoot(".")
	if err != nil {
		panic(fmt.Sprintf("integration tests run inside the Janus repository: %v", err))
	}
	return root
}

// LoadClusterRoles reads the ClusterRoles of YAML files under the repository,
// by name, so tests grant exactly what the shipped manifests grant.
func LoadClusterRoles(paths ...string) (map[string]rbacv1.ClusterRole, error) {
	var files []string
	for _, p := range paths {
		files = append(files, filepath.Join(RepoRoot(), p))
	}
	objs, err := testenv.ReadManifests(files...)
	if err != nil {
		return nil, err
	}
	roles := map[string]rbacv1.ClusterRole{}
	for _, obj := range objs {
		if obj.GetKind() != "ClusterRole" {
			continue
		}
		var role rbacv1.ClusterRole
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
			return nil, fmt.Errorf("decoding ClusterRole %s: %w", obj.GetName(), err)
		}
		roles[role.Name] = role
	}
	return roles, nil
}

// RuleAuthorizer authorizes like RBAC with ClusterRoleBindings: each user
// holds the rules of the ClusterRoles bound to them, matched with the
// upstream RBAC rule matcher. Members of system:masters may do anything.
type RuleAuthorizer struct {
	rules map[string][]rbacv1.PolicyRule
}

// NewRuleAuthorizer binds users to rules.
func NewRuleAuthorizer(rules map[string][]rbacv1.PolicyRule) authorizer.Authorizer {
	return authorizer.AuthorizerFunc((&RuleAuthorizer{rules: rules}).Authorize)
}

func (a *RuleAuthorizer) Authorize(_ context.Context, attrs authorizer.Attributes) (authorizer.Decision, string, error) {
	u := attrs.GetUser()
	if u == nil {
		return authorizer.DecisionNoOpinion, "no user", nil
	}
	if slices.Contains(u.GetGroups(), "system:masters") {
		return authorizer.DecisionAllow, "", nil
	}
	if !attrs.IsResourceRequest() {
		// Discovery and OpenAPI, as system:discovery grants them.
		if attrs.GetVerb() == "get" {
			return authorizer.DecisionAllow, "", nil
		}
		return authorizer.DecisionNoOpinion, "", nil
	}
	resource := attrs.GetResource()
	if sub := attrs.GetSubresource(); sub != "" {
		resource += "/" + sub
	}
	want := rbacv1.PolicyRule{Verbs: []string{attrs.GetVerb()}, APIGroups: []string{attrs.GetAPIGroup()}, Resources: []string{resource}}
	if name := attrs.GetName(); name != "" {
		want.ResourceNames = []string{name}
	}
	if covered, _ := rbacvalidation.Covers(a.rules[u.GetName()], []rbacv1.PolicyRule{want}); covered {
		return authorizer.DecisionAllow, "", nil
	}
	return authorizer.DecisionNoOpinion, "", nil
}
