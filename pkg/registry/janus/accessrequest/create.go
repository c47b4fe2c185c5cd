package accessrequest

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// Create answers a request whose validation could not read its Cluster
// (the datastore restarting, a connection cut) with 500, the server error
// it is, which clients retry; the registry would make it a 422 on
// spec.cluster, which tells them the request itself is wrong.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	created, err := r.Store.Create(ctx, obj, createValidation, options)
	if internal := internalValidationError(err); internal != nil {
		return nil, apierrors.NewInternalError(internal)
	}
	return created, err
}

// internalValidationError is the first field.ErrorTypeInternal cause of a
// 422, or nil.
func internalValidationError(err error) error {
	var status apierrors.APIStatus
	if !apierrors.IsInvalid(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	for _, c := range status.Status().Details.Causes {
		if c.Type == metav1.CauseType(field.ErrorTypeInternal) {
			return fmt.Errorf("validating the request: %s: %s", c.Field, c.Message)
		}
	}
	return nil
}
