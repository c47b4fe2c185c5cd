package session

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/names"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// strategy governs Janus's own writes of Sessions: the record is created
// whole when the session opens, its status changes when it ends, and its
// spec never changes.
type strategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func newStrategy(typer runtime.ObjectTyper) strategy {
	return strategy{typer, names.SimpleNameGenerator}
}

func (strategy) NamespaceScoped() bool { return false }

func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	obj.(*janus.Session).Generation = 1
}

func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateSession(obj.(*janus.Session))
}

func (strategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (strategy) Canonicalize(runtime.Object) {}

func (strategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (strategy) AllowUnconditionalUpdate(context.Context) bool { return false }

func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*janus.Session).Generation = old.(*janus.Session).Generation
}

func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateSessionUpdate(obj.(*janus.Session), old.(*janus.Session))
}

func (strategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// GetAttrs returns the labels and the selectable fields of a Session.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	s, ok := obj.(*janus.Session)
	if !ok {
		return nil, nil, fmt.Errorf("reading selectable fields: %T is not a Session", obj)
	}
	return s.Labels, selectableFields(s), nil
}

func selectableFields(s *janus.Session) fields.Set {
	return generic.AddObjectMetaFieldsSet(fields.Set{
		v1alpha1.FieldSessionRequest:  s.Spec.Request,
		v1alpha1.FieldCluster:         s.Spec.Cluster,
		v1alpha1.FieldSessionUsername: s.Spec.User.Username,
		v1alpha1.FieldPhase:           string(s.Status.Phase),
	}, &s.ObjectMeta, false)
}

// Match is the filter used by list and watch for label and field selectors.
func Match(label labels.Selector, field fields.Selector) storage.SelectionPredicate {
	return storage.SelectionPredicate{Label: label, Field: field, GetAttrs: GetAttrs}
}
