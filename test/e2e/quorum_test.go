package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	v1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// TestQuorumOfTwoNeedsTwoDistinctApprovers: through the kube-apiserver's
// aggregation and RBAC, a request for a Cluster that requires two
// approvals stays Pending after carol's, refuses carol twice and bob (an
// approver for dev only), and is Approved by erin, a second approver by
// RBAC.
func TestQuorumOfTwoNeedsTwoDistinctApprovers(t *testing.T) {
	t.Parallel()
	admin := janusAs(t, "admin")
	// No agent: the request stops at Approved, which is what is looked at.
	cluster, err := admin.JanusV1alpha1().Clusters().Create(bg(t), &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "quorum-"},
		Spec:       v1alpha1.ClusterSpec{DisplayName: "Two approvers", Approval: v1alpha1.ApprovalPolicy{Required: 2}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("registering a cluster with a quorum of 2: %v", err)
	}
	t.Cleanup(func() {
		_ = admin.JanusV1alpha1().Clusters().Delete(context.Background(), cluster.Name, metav1.DeleteOptions{})
	})

	ar, err := janusAs(t, "alice").JanusV1alpha1().AccessRequests().Create(bg(t), &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "quorum-"},
		Spec:       v1alpha1.AccessRequestSpec{Cluster: cluster.Name, Namespaces: []string{"payments"}, Duration: metav1.Duration{Duration: time.Hour}, Reason: "e2e quorum"},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("alice requesting: %v", err)
	}
	if ar.Status.RequiredApprovals != 2 {
		t.Fatalf("requiredApprovals = %d, want the Cluster's 2", ar.Status.RequiredApprovals)
	}
	approve := func(user string) (*v1alpha1.AccessRequest, error) {
		return janusAs(t, user).JanusV1alpha1().AccessRequests().Approve(bg(t), ar.Name, &v1alpha1.Approval{Reason: "e2e quorum by " + user}, metav1.CreateOptions{})
	}

	first, err := approve("carol")
	if err != nil {
		t.Fatalf("carol approving: %v", err)
	}
	if first.Status.Phase != v1alpha1.AccessRequestPending || len(first.Status.Approvals) != 1 || !strings.Contains(first.Status.Message, "1 of 2") {
		t.Fatalf("after carol's approval: phase %s, %d approvals, message %q; want Pending with 1 of 2", first.Status.Phase, len(first.Status.Approvals), first.Status.Message)
	}
	_, err = approve("carol")
	expectAPIStatus(t, err, http.StatusConflict, "already approved")
	// bob approves for dev only.
	_, err = approve("bob")
	expectAPIStatus(t, err, http.StatusForbidden, `cannot approve access to cluster "`+cluster.Name+`"`)
	still, err := admin.JanusV1alpha1().AccessRequests().Get(bg(t), ar.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if still.Status.Phase != v1alpha1.AccessRequestPending || len(still.Status.Approvals) != 1 {
		t.Fatalf("after refused approvals: phase %s with %d approvals, want Pending with carol's alone", still.Status.Phase, len(still.Status.Approvals))
	}

	erin := secondApprover(t)
	second, err := erin.JanusV1alpha1().AccessRequests().Approve(bg(t), ar.Name, &v1alpha1.Approval{Reason: "e2e quorum by erin"}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("erin approving as the second approver: %v", err)
	}
	if second.Status.Phase != v1alpha1.AccessRequestApproved || len(second.Status.Approvals) != 2 ||
		second.Status.Approvals[0].User != "carol" || second.Status.Approvals[1].User != "erin" {
		t.Fatalf("after the second approval: phase %s, approvals %+v; want Approved by carol and erin", second.Status.Phase, second.Status.Approvals)
	}
}

// secondApprover is a Janus client for erin, whom the test makes an
// approver of every cluster by RBAC alone (the shipped janus-approver
// role, bound for the test), reached through admin's right to impersonate.
func secondApprover(t *testing.T) versioned.Interface {
	t.Helper()
	adminCfg, err := bed.RESTConfigFor("admin")
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(adminCfg)
	if err != nil {
		t.Fatal(err)
	}
	binding, err := kube.RbacV1().ClusterRoleBindings().Create(bg(t), &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "e2e-quorum-erin-"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "janus-approver"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "erin"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("binding erin to janus-approver: %v", err)
	}
	t.Cleanup(func() {
		_ = kube.RbacV1().ClusterRoleBindings().Delete(context.Background(), binding.Name, metav1.DeleteOptions{})
	})
	waitUntilAllowed(t, kube, "erin", "approve", "")
	return impersonating(t, adminCfg, "erin")
}
