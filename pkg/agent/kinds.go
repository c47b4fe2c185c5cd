package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// labelledObject is what finding and deleting an object of a grant takes.
type labelledObject struct {
	namespace, name, request string
}

// grantKind is one kind of object a grant is made of, found by its labels.
type grantKind struct {
	name   string
	list   func(ctx context.Context, selector string) ([]labelledObject, error)
	delete func(ctx context.Context, namespace, name string) error
}

// grantKinds are the kinds of a grant's objects: one ServiceAccount, in
// the agent's namespace, and a RoleBinding in each granted namespace.
type grantKinds struct {
	serviceAccounts, roleBindings grantKind
}

// all lists the kinds, the ServiceAccount first: deleting it invalidates
// every token minted for it, so a removal must attempt it whatever else
// fails.
func (k grantKinds) all() []grantKind {
	return []grantKind{k.serviceAccounts, k.roleBindings}
}

// serviceAccountKind names the kind whose deletion ends a grant's tokens.
const serviceAccountKind = "serviceaccount"

func newGrantKinds(client kubernetes.Interface, agentNamespace string) grantKinds {
	return grantKinds{
		serviceAccounts: grantKind{
			name: serviceAccountKind,
			list: func(ctx context.Context, selector string) ([]labelledObject, error) {
				l, err := client.CoreV1().ServiceAccounts(agentNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
				if err != nil {
					return nil, err
				}
				return labelledObjects(l.Items), nil
			},
			delete: func(ctx context.Context, namespace, name string) error {
				return client.CoreV1().ServiceAccounts(namespace).Delete(ctx, name, metav1.DeleteOptions{})
			},
		},
		roleBindings: grantKind{
			name: "rolebinding",
			list: func(ctx context.Context, selector string) ([]labelledObject, error) {
				l, err := client.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, metav1.ListOptions{LabelSelector: selector})
				if err != nil {
					return nil, err
				}
				return labelledObjects(l.Items), nil
			},
			delete: func(ctx context.Context, namespace, name string) error {
				return client.RbacV1().RoleBindings(namespace).Delete(ctx, name, metav1.DeleteOptions{})
			},
		},
	}
}

func labelledObjects[T any, PT interface {
	*T
	metav1.Object
}](items []T) []labelledObject {
	objs := make([]labelledObject, 0, len(items))
	for i := range items {
		o := PT(&items[i])
		objs = append(objs, labelledObject{namespace: o.GetNamespace(), name: o.GetName(), request: o.GetLabels()[RequestLabel]})
	}
	return objs
}

// deleteObject deletes one object; one that is gone already is no error.
func deleteObject(ctx context.Context, kind grantKind, namespace, name string) error {
	if err := kind.delete(ctx, namespace, name); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", kind.name, namespace, name, err)
	}
	return nil
}
