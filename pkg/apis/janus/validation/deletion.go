package validation

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/infroware/janus/pkg/apis/janus"
)

// Deleting a request revokes it first: the grant finalizer keeps the object
// until the grant is gone. Nobody else may own or finalize a request, so
// garbage collection never removes one that may hold a grant, and no
// finalizer of someone else's keeps a finished one around.

const (
	noOwners           = "an AccessRequest has no owner: garbage collection must never remove a request that may hold a grant"
	onlyJanusFinalizes = "only Janus sets the finalizers of an AccessRequest"
)

// GrantMayExist reports whether a request with these conditions may hold a
// grant in its target cluster: it was approved, and no Provisioned
// condition says the grant is gone.
func GrantMayExist(conditions []metav1.Condition) bool {
	if !meta.IsStatusConditionTrue(conditions, janus.ConditionApproved) {
		return false
	}
	p := meta.FindStatusCondition(conditions, janus.ConditionProvisioned)
	return p == nil || (p.Reason != janus.ReasonGrantRemoved && p.Reason != janus.ReasonClusterUnregistered)
}

// GrantFinalizerMayGo reports whether the grant finalizer has nothing left
// to guard: the request holds no grant and can never get one, because it
// ended or because it is being deleted (which refuses every decision).
func GrantFinalizerMayGo(ar *janus.AccessRequest) bool {
	return !GrantMayExist(ar.Status.Conditions) && (IsTerminal(ar.Status.Phase) || ar.DeletionTimestamp != nil)
}

// validateOwnershipOnCreate refuses owners and any finalizer but Janus's.
func validateOwnershipOnCreate(m *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(m.OwnerReferences) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("ownerReferences"), noOwners))
	}
	for _, f := range m.Finalizers {
		if f != janus.GrantFinalizer {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("finalizers"), fmt.Sprintf("cannot add %q: %s", f, onlyJanusFinalizes)))
		}
	}
	return allErrs
}

// validateOwnersUpdate refuses any owner an update adds.
func validateOwnersUpdate(newAR, oldAR *janus.AccessRequest, fldPath *field.Path) field.ErrorList {
	had := sets.New[types.UID]()
	for _, ref := range oldAR.OwnerReferences {
		had.Insert(ref.UID)
	}
	for _, ref := range newAR.OwnerReferences {
		if !had.Has(ref.UID) {
			return field.ErrorList{field.Forbidden(fldPath.Child("ownerReferences"), noOwners)}
		}
	}
	return nil
}

// validateFinalizersUpdate refuses finalizers an update adds, and the
// removal of the grant finalizer while the request may hold, or still get,
// a grant. Any update may carry the finalizer's removal once it may go —
// Janus removes it through the status subresource.
func validateFinalizersUpdate(newAR, oldAR *janus.AccessRequest, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	had, has := sets.New(oldAR.Finalizers...), sets.New(newAR.Finalizers...)
	for _, f := range newAR.Finalizers {
		if !had.Has(f) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("finalizers"), fmt.Sprintf("cannot add %q: %s", f, onlyJanusFinalizes)))
		}
	}
	if had.Has(janus.GrantFinalizer) && !has.Has(janus.GrantFinalizer) && !GrantFinalizerMayGo(newAR) {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("finalizers"), fmt.Sprintf(
			"cannot remove %q while the request may hold a grant in cluster %q: delete the request, and Janus removes the finalizer once the grant is gone and its sessions are cut",
			janus.GrantFinalizer, newAR.Spec.Cluster)))
	}
	return allErrs
}
