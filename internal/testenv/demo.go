package testenv

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	janusv1alpha1 "github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/generated/clientset/versioned"
)

// DemoClusters are the Clusters the testbed registers: dev, which bob may
// approve for, and prod, which only cluster-wide approvers (carol) may.
var DemoClusters = []janusv1alpha1.Cluster{
	{
		ObjectMeta: metav1.ObjectMeta{Name: "dev"},
		Spec:       janusv1alpha1.ClusterSpec{DisplayName: "Development"},
	},
	{
		ObjectMeta: metav1.ObjectMeta{Name: "prod"},
		Spec: janusv1alpha1.ClusterSpec{
			DisplayName: "Production",
			Approval:    janusv1alpha1.ApprovalPolicy{Required: 1},
		},
	},
}

// demoBindings bind each demo user to their ClusterRole.
func demoBindings() []*unstructured.Unstructured {
	var objs []*unstructured.Unstructured
	for _, u := range Users {
		if u.ClusterRole == "" {
			continue
		}
		objs = append(objs, mustUnstructured(&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: "janus-demo:" + u.Name, Labels: map[string]string{"app.kubernetes.io/part-of": "janus-testbed"}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: u.ClusterRole},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: u.Name}},
		}))
	}
	return objs
}

// createDemoClusters registers DemoClusters through the aggregator, as an
// administrator would.
func (tb *Testbed) createDemoClusters(ctx context.Context) error {
	cfg := tb.bootstrapConfig()
	client, err := versioned.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building Janus client: %w", err)
	}
	for i := range DemoClusters {
		cluster := DemoClusters[i].DeepCopy()
		err := WaitUntil(ctx, "creating Cluster "+cluster.Name, nil, func(ctx context.Context) error {
			_, err := client.JanusV1alpha1().Clusters().Create(ctx, cluster, metav1.CreateOptions{})
			switch {
			case err == nil, apierrors.IsAlreadyExists(err):
				return nil
			case apierrors.IsInvalid(err), apierrors.IsForbidden(err), apierrors.IsBadRequest(err):
				return Permanent(err)
			}
			return err // the aggregator may still be wiring up the group
		})
		if err != nil {
			return err
		}
	}
	return nil
}
