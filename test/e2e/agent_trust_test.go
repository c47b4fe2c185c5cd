package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// TestClusterEditorCannotTakeOverAgentTrust is issue 9's attack through
// the real kube-apiserver with the shipped roles: a janus-admin may edit
// a Cluster but not replace its spec.agent and so become its agent —
// RBAC refuses clusters/agent (403) and Janus refuses a plain update that
// touches spec.agent (422) — while janus-agent-trust can, with kubectl
// patch --subresource=agent.
func TestClusterEditorCannotTakeOverAgentTrust(t *testing.T) {
	t.Parallel()
	const (
		editor  = "e2e-cluster-editor"
		trustee = "e2e-agent-trustee"
		cluster = "e2e-trust"
	)
	adminCfg, err := bed.RESTConfigFor("admin")
	if err != nil {
		t.Fatal(err)
	}
	kube := kubernetes.NewForConfigOrDie(adminCfg)
	for user, role := range map[string]string{editor: "janus-admin", trustee: "janus-agent-trust"} {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}
		if _, err := kube.RbacV1().ClusterRoleBindings().Create(bg(t), binding, metav1.CreateOptions{}); err != nil {
			t.Fatalf("binding %s to %s: %v", role, user, err)
		}
		t.Cleanup(func() {
			_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), user, metav1.DeleteOptions{})
		})
	}
	waitUntilAllowed(t, kube, editor, "update", "")
	waitUntilAllowed(t, kube, trustee, "update", "agent")

	admin := janusAs(t, "admin")
	original := v1alpha1.ClusterAgent{Issuer: "https://e2e-trust.example.com", ServiceAccount: "janus/janus-agent"}
	if _, err := admin.JanusV1alpha1().Clusters().Create(bg(t), &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Name: cluster},
		Spec:       v1alpha1.ClusterSpec{DisplayName: "Agent trust", Agent: original},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("registering %s: %v", cluster, err)
	}
	t.Cleanup(func() {
		_ = admin.JanusV1alpha1().Clusters().Delete(context.Background(), cluster, metav1.DeleteOptions{})
	})

	// The editor holds update on clusters...
	editorClient := impersonating(t, adminCfg, editor)
	c, err := editorClient.JanusV1alpha1().Clusters().Get(bg(t), cluster, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the editor reading %s: %v", cluster, err)
	}
	c.Spec.DisplayName = "Edited"
	if c, err = editorClient.JanusV1alpha1().Clusters().Update(bg(t), c, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("the editor editing %s: %v", cluster, err)
	}
	// ...but a plain update that replaces the agent is refused by Janus,
	takeover := c.DeepCopy()
	takeover.Spec.Agent = v1alpha1.ClusterAgent{Issuer: "https://attacker.example.com", ServiceAccount: "evil/agent"}
	_, err = editorClient.JanusV1alpha1().Clusters().Update(bg(t), takeover, metav1.UpdateOptions{})
	expectAPIStatus(t, err, http.StatusUnprocessableEntity, "spec.agent", "clusters/agent")
	// and the subresource by RBAC, through client-go and kubectl alike.
	_, err = editorClient.JanusV1alpha1().Clusters().UpdateAgent(bg(t), cluster, takeover, metav1.UpdateOptions{})
	expectAPIStatus(t, err, http.StatusForbidden, `cannot update resource "clusters/agent"`)
	// kubectl patch reads through the subresource first, so RBAC already
	// refuses that get.
	patch := `{"spec":{"agent":{"issuer":"https://attacker.example.com"}}}`
	expectFailure(t, kubectl(t, "admin", "--as", editor, "patch", "clusters.janus.infroware.io", cluster, "--subresource=agent", "--type=merge", "-p", patch),
		"forbidden", `User "`+editor+`" cannot get resource "clusters/agent"`)
	if got := agentOf(t, admin, cluster); got != original {
		t.Fatalf("after the editor's attempts spec.agent is %+v, want %+v", got, original)
	}

	// The agent-trust role changes spec.agent, and only that.
	rotated := `{"spec":{"displayName":"Ignored","agent":{"issuer":"https://e2e-trust-rotated.example.com"}}}`
	mustKubectl(t, "admin", "--as", trustee, "patch", "clusters.janus.infroware.io", cluster, "--subresource=agent", "--type=merge", "-p", rotated)
	got, err := admin.JanusV1alpha1().Clusters().Get(bg(t), cluster, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.Agent.Issuer != "https://e2e-trust-rotated.example.com" || got.Spec.Agent.ServiceAccount != original.ServiceAccount {
		t.Errorf("after the trustee's patch spec.agent is %+v", got.Spec.Agent)
	}
	if got.Spec.DisplayName != "Edited" {
		t.Errorf("clusters/agent changed displayName to %q", got.Spec.DisplayName)
	}
	// kubectl replace --raw PUTs a whole object to the subresource.
	got.Spec.Agent.Issuer = "https://e2e-trust-replaced.example.com"
	got.Spec.DisplayName = "Ignored too"
	got.APIVersion, got.Kind = v1alpha1.SchemeGroupVersion.String(), "Cluster"
	body, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	mustKubectl(t, "admin", "--as", trustee, "replace", "--raw", "/apis/janus.infroware.io/v1alpha1/clusters/"+cluster+"/agent", "-f", writeFile(t, "cluster.json", string(body)))
	if got := agentOf(t, admin, cluster); got.Issuer != "https://e2e-trust-replaced.example.com" {
		t.Errorf("after kubectl replace --raw spec.agent is %+v", got)
	}
	if got, err = admin.JanusV1alpha1().Clusters().Get(bg(t), cluster, metav1.GetOptions{}); err != nil || got.Spec.DisplayName != "Edited" {
		t.Fatalf("after kubectl replace --raw: displayName %q, %v; want Edited", got.Spec.DisplayName, err)
	}

	// Nor may the trustee edit anything else.
	got.Spec.DisplayName = "Trustee's"
	_, err = impersonating(t, adminCfg, trustee).JanusV1alpha1().Clusters().Update(bg(t), got, metav1.UpdateOptions{})
	expectAPIStatus(t, err, http.StatusForbidden, `cannot update resource "clusters"`)
}

// impersonating is a Janus client acting as user, through admin's
// impersonation right, so RBAC judges user's own bindings.
func impersonating(t *testing.T, adminCfg *rest.Config, user string) versioned.Interface {
	t.Helper()
	cfg := rest.CopyConfig(adminCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := versioned.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitUntilAllowed waits until RBAC lets user verb clusters (/subresource):
// a new binding takes a moment to reach the authorizer's cache.
func waitUntilAllowed(t *testing.T, kube kubernetes.Interface, user, verb, subresource string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(bg(t), 100*time.Millisecond, conditionTimeout, true, func(ctx context.Context) (bool, error) {
		review, err := kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User: user, Groups: []string{"system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: v1alpha1.GroupName, Resource: "clusters", Subresource: subresource, Verb: verb},
		}}, metav1.CreateOptions{})
		return err == nil && review.Status.Allowed, nil
	})
	if err != nil {
		t.Fatalf("RBAC never allowed %s to %s clusters/%s: %v", user, verb, subresource, err)
	}
}

func agentOf(t *testing.T, c versioned.Interface, cluster string) v1alpha1.ClusterAgent {
	t.Helper()
	got, err := c.JanusV1alpha1().Clusters().Get(bg(t), cluster, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Spec.Agent
}

// expectAPIStatus checks that err is a Kubernetes Status with the code and
// a message holding every fragment.
func expectAPIStatus(t *testing.T, err error, code int32, fragments ...string) {
	t.Helper()
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		t.Fatalf("want a Kubernetes Status with HTTP %d, got %v", code, err)
	}
	if got := status.Status().Code; got != code {
		t.Fatalf("HTTP %d, want %d: %v", got, code, err)
	}
	for _, f := range fragments {
		if !strings.Contains(status.Status().Message, f) {
			t.Errorf("%q does not mention %q", status.Status().Message, f)
		}
	}
}
