package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// labelledObject is what finding and deleting an object of a grant takes.
type labelledObject struct {
	namespace, name, request string
}

// grantKind is one kind of object a grant is made of, found by its labels.
type grantKind struct {
	name   string
	list   func(ctx context.Context, opts metav1.ListOptions) ([]labelledObject, error)
	delete func(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error
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
			list: func(ctx context.Context, opts metav1.ListOptions) ([]labelledObject, error) {
				l, err := client.CoreV1().ServiceAccounts(agentNamespace).List(ctx, opts)
				if err != nil {
					return nil, err
				}
				return labelledObjects(l.Items), nil
			},
			delete: func(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error {
				return client.CoreV1().ServiceAccounts(namespace).Delete(ctx, name, opts)
			},
		},
		roleBindings: grantKind{
			name: "rolebinding",
			list: func(ctx context.Context, opts metav1.ListOptions) ([]labelledObject, error) {
				l, err := client.RbacV1().RoleBindings(metav1.NamespaceAll).List(ctx, opts)
				if err != nil {
					return nil, err
				}
				return labelledObjects(l.Items), nil
			},
			delete: func(ctx context.Context, namespace, name string, opts metav1.DeleteOptions) error {
				return client.RbacV1().RoleBindings(namespace).Delete(ctx, name, opts)
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
	if err := kind.delete(ctx, namespace, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s/%s: %w", kind.name, namespace, name, err)
	}
	return nil
}

// madeObject is one object of a grant as this agent made or last updated
// it: its UID makes sure a removal by name deletes exactly that object.
type madeObject struct {
	kind            grantKind
	namespace, name string
	uid             types.UID
}

// deleteMade deletes obj if it is still the object the agent made, and
// says whether it is known to be gone: deleted now, or gone already. One
// that was replaced meanwhile (a conflict on the UID precondition) is no
// error, but not known gone either: the sweep by label decides on the
// replacement.
func deleteMade(ctx context.Context, obj madeObject) (gone bool, err error) {
	err = obj.kind.delete(ctx, obj.namespace, obj.name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &obj.uid}})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return true, nil
	case apierrors.IsConflict(err):
		return false, nil
	}
	return false, fmt.Errorf("deleting %s %s/%s: %w", obj.kind.name, obj.namespace, obj.name, err)
}
