package accessrequest

import (
	"context"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// ClusterGetter reads a Cluster consistently from storage.
type ClusterGetter interface {
	GetCluster(ctx context.Context, name string) (*janus.Cluster, error)
}

// accessRequestStrategy governs create, update (labels and annotations only)
// and delete of AccessRequests.
type accessRequestStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator

	clusters ClusterGetter
	policy   validation.Policy
}

func (accessRequestStrategy) NamespaceScoped() bool { return false }

func (accessRequestStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"janus.infroware.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// PrepareForCreate stamps the requester from the authenticated user, like the
// CSR registry does: whatever the body claims is discarded. The quorum is
// fixed from the Cluster now, so that lowering the Cluster's
// spec.approval.required under a pending request does not let fewer people
// approve it; when the Cluster cannot be read, Validate refuses the request.
// The grant finalizer makes a deletion wait until the controller has revoked
// the request.
func (s accessRequestStrategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	ar := obj.(*janus.AccessRequest)
	if !slices.Contains(ar.Finalizers, janus.GrantFinalizer) {
		ar.Finalizers = append(ar.Finalizers, janus.GrantFinalizer)
	}
	ar.Spec.Requester = janus.UserInfo{}
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		ar.Spec.Requester = userInfo(u)
	}
	ar.Generation = 1
	ar.Status = janus.AccessRequestStatus{
		Phase:   janus.AccessRequestPending,
		Message: "waiting for approval",
	}
	if ar.Spec.Cluster == "" || len(utilvalidation.IsDNS1123Subdomain(ar.Spec.Cluster)) > 0 {
		return
	}
	if cluster, err := s.clusters.GetCluster(ctx, ar.Spec.Cluster); err == nil {
		ar.Status.RequiredApprovals = int32(validation.RequiredApprovals(cluster))
	}
}

func userInfo(u user.Info) janus.UserInfo {
	info := janus.UserInfo{Username: u.GetName(), UID: u.GetUID()}
	if groups := u.GetGroups(); len(groups) > 0 {
		info.Groups = append([]string(nil), groups...)
	}
	if extra := u.GetExtra(); len(extra) > 0 {
		info.Extra = make(map[string]janus.ExtraValue, len(extra))
		for k, v := range extra {
			info.Extra[k] = append(janus.ExtraValue(nil), v...)
		}
	}
	return info
}

// Validate checks the request on its own and against its cluster's policy,
// so one 422 lists every problem.
func (s accessRequestStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	ar := obj.(*janus.AccessRequest)
	allErrs := validation.ValidateAccessRequest(ar)
	if ar.Spec.Cluster == "" || len(utilvalidation.IsDNS1123Subdomain(ar.Spec.Cluster)) > 0 {
		// The cluster name itself is wrong; there is no policy to check against.
		return allErrs
	}
	cluster, err := s.clusters.GetCluster(ctx, ar.Spec.Cluster)
	switch {
	case apierrors.IsNotFound(err):
		return append(allErrs, field.NotFound(field.NewPath("spec", "cluster"), ar.Spec.Cluster))
	case err != nil:
		return append(allErrs, field.InternalError(field.NewPath("spec", "cluster"), fmt.Errorf("reading cluster %q: %w", ar.Spec.Cluster, err)))
	case ar.Status.RequiredApprovals < 1:
		// PrepareForCreate could not read the Cluster a moment ago, so the
		// quorum is not fixed; a retry is (create answers this with 500).
		allErrs = append(allErrs, field.InternalError(field.NewPath("status", "requiredApprovals"), fmt.Errorf("cluster %q could not be read to fix the quorum", ar.Spec.Cluster)))
	}
	return append(allErrs, validation.ValidateAccessRequestPolicy(&ar.Spec, s.policy.ForCluster(cluster))...)
}

func (accessRequestStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (accessRequestStrategy) Canonicalize(runtime.Object) {}

func (accessRequestStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (accessRequestStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

// PrepareForUpdate keeps the status: it changes only through subresources.
func (accessRequestStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newAR, oldAR := obj.(*janus.AccessRequest), old.(*janus.AccessRequest)
	newAR.Status = oldAR.Status
}

func (accessRequestStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAccessRequestUpdate(obj.(*janus.AccessRequest), old.(*janus.AccessRequest))
}

func (accessRequestStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// DefaultGarbageCollectionPolicy keeps the garbage collector's orphan and
// foregroundDeletion finalizers off AccessRequests: a request has no
// owners, and only Janus finalizes it.
func (accessRequestStrategy) DefaultGarbageCollectionPolicy(context.Context) rest.GarbageCollectionPolicy {
	return rest.Unsupported
}

// CheckGracefulDelete records who deleted a request that had not ended, so
// that its revocation, its Events and its cut sessions name them. The
// generic store calls it, with the caller in ctx, on the very object its
// deletion writes; it never asks for a grace period, since the grant
// finalizer holds the object instead.
func (accessRequestStrategy) CheckGracefulDelete(ctx context.Context, obj runtime.Object, _ *metav1.DeleteOptions) bool {
	ar := obj.(*janus.AccessRequest)
	if validation.IsTerminal(ar.Status.Phase) {
		// The decision that ended it stands.
		return false
	}
	var deleter, deleterUID string
	if u, ok := genericapirequest.UserFrom(ctx); ok {
		deleter, deleterUID = u.GetName(), u.GetUID()
	}
	ar.Status.Decision = &janus.Decision{User: deleter, UID: deleterUID, Time: metav1.NewTime(time.Now().Truncate(time.Second)), Reason: janus.DecisionReasonDeleted}
	return false
}

// statusStrategy governs every status change: the status subresource used by
// Janus itself, and the decision subresources. The spec and metadata stay as
// they are; the phase moves only along the lifecycle.
type statusStrategy struct {
	accessRequestStrategy
}

func (statusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"janus.infroware.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

func (statusStrategy) AllowUnconditionalUpdate(context.Context) bool { return false }

// PrepareForUpdate keeps the finalizers of the new object: the controller
// removes the grant finalizer here, after the status it wrote says the
// grant is gone, and validation refuses the removal any earlier.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newAR, oldAR := obj.(*janus.AccessRequest), old.(*janus.AccessRequest)
	newAR.Spec = oldAR.Spec
	finalizers := newAR.Finalizers
	metav1.ResetObjectMetaForStatus(newAR, oldAR)
	newAR.Finalizers = finalizers
}

func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateAccessRequestStatusUpdate(obj.(*janus.AccessRequest), old.(*janus.AccessRequest))
}

// GetAttrs returns the labels and the selectable fields of an AccessRequest.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	ar, ok := obj.(*janus.AccessRequest)
	if !ok {
		return nil, nil, fmt.Errorf("reading selectable fields: %T is not an AccessRequest", obj)
	}
	return ar.Labels, selectableFields(ar), nil
}

func selectableFields(ar *janus.AccessRequest) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		v1alpha1.FieldCluster:           ar.Spec.Cluster,
		v1alpha1.FieldRequesterUsername: ar.Spec.Requester.Username,
		v1alpha1.FieldPhase:             string(ar.Status.Phase),
	}, &ar.ObjectMeta, false)
}

// Match is the filter used by list and watch for label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
