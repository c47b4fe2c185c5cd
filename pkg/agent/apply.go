package agent

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// objectClient is what the typed clients of ServiceAccounts and
// RoleBindings have in common.
type objectClient[T metav1.Object] interface {
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// ensureObject creates want or, if the agent made an object of that name for
// the same request before, brings it in line with want. It never takes over
// an object someone else made. created says whether this call made the
// object, so that a failed grant can undo exactly what it did; uid is the
// object's as it now stands.
//
// Create comes first because a new grant, the case that must be fast,
// then costs one call per object.
func ensureObject[T metav1.Object](ctx context.Context, c objectClient[T], kind string, want T, update func(have, want T) (T, bool)) (created bool, uid types.UID, err error) {
	request := want.GetLabels()[RequestLabel]
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		made, err := c.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			created, uid = true, made.GetUID()
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return err
		}
		have, err := c.Get(ctx, want.GetName(), metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !ownedBy(have, request) {
			return &GrantError{Message: fmt.Sprintf(
				"%s %s/%s exists but was not created by Janus for request %s; the cluster's administrators must remove or rename it",
				kind, have.GetNamespace(), have.GetName(), request)}
		}
		updated, ok := update(have, want)
		if ok {
			written, err := c.Update(ctx, updated, metav1.UpdateOptions{})
			if err == nil {
				uid = written.GetUID()
			}
			return err
		}
		// What cannot be updated in place is replaced. The UID precondition
		// makes sure it is the object just read that goes.
		err = c.Delete(ctx, have.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: ptr.To(have.GetUID())}})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		made, err = c.Create(ctx, want, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created, uid = true, made.GetUID()
		return nil
	})
	return created, uid, err
}
