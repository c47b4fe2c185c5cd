package cluster

import (
	"context"

	apiequality "k8s.io/apimachinery/pkg/api/equality"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
)

// clusterStrategy governs create, update and delete of Clusters by admins.
type clusterStrategy struct {
	runtime.ObjectTyper
	names.NameGenerator
}

func newStrategy(typer runtime.ObjectTyper) clusterStrategy {
	return clusterStrategy{typer, names.SimpleNameGenerator}
}

func (clusterStrategy) NamespaceScoped() bool { return false }

func (clusterStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"janus.infroware.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

func (clusterStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	c := obj.(*janus.Cluster)
	c.Status = janus.ClusterStatus{}
	c.Generation = 1
}

func (clusterStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newC, oldC := obj.(*janus.Cluster), old.(*janus.Cluster)
	newC.Status = oldC.Status
	if !apiequality.Semantic.DeepEqual(newC.Spec, oldC.Spec) {
		newC.Generation = oldC.Generation + 1
	}
}

func (clusterStrategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return validation.ValidateCluster(obj.(*janus.Cluster))
}

func (clusterStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (clusterStrategy) AllowCreateOnUpdate(context.Context) bool { return false }

func (clusterStrategy) AllowUnconditionalUpdate(context.Context) bool { return true }

func (clusterStrategy) Canonicalize(runtime.Object) {}

func (clusterStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterUpdate(obj.(*janus.Cluster), old.(*janus.Cluster))
}

func (clusterStrategy) WarningsOnUpdate(context.Context, runtime.Object, runtime.Object) []string {
	return nil
}

// clusterStatusStrategy lets the agent (through Janus) report status without
// touching the spec an admin wrote.
type clusterStatusStrategy struct {
	clusterStrategy
}

func (clusterStatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"janus.infroware.io/v1alpha1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

func (clusterStatusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newC, oldC := obj.(*janus.Cluster), old.(*janus.Cluster)
	newC.Spec = oldC.Spec
	metav1.ResetObjectMetaForStatus(newC, oldC)
}

func (clusterStatusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterStatusUpdate(obj.(*janus.Cluster), old.(*janus.Cluster))
}

// clusterAgentStrategy changes agent trust, spec.agent, and nothing else:
// the clusters/agent subresource, its own RBAC permission, since whoever
// changes it can become the cluster's agent.
type clusterAgentStrategy struct {
	clusterStrategy
}

func (clusterAgentStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"janus.infroware.io/v1alpha1": fieldpath.NewSet(
			fieldpath.MakePathOrDie("status"),
			fieldpath.MakePathOrDie("spec", "displayName"),
			fieldpath.MakePathOrDie("spec", "excludedNamespaces"),
			fieldpath.MakePathOrDie("spec", "maxDuration"),
			fieldpath.MakePathOrDie("spec", "approval"),
		),
	}
}

// PrepareForUpdate keeps everything of the stored Cluster but spec.agent.
func (clusterAgentStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	newC, oldC := obj.(*janus.Cluster), old.(*janus.Cluster)
	agent := newC.Spec.Agent
	newC.Spec = oldC.Spec
	newC.Spec.Agent = agent
	newC.Status = oldC.Status
	metav1.ResetObjectMetaForStatus(newC, oldC)
	newC.Generation = oldC.Generation
	if !apiequality.Semantic.DeepEqual(agent, oldC.Spec.Agent) {
		newC.Generation = oldC.Generation + 1
	}
}

func (clusterAgentStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return validation.ValidateClusterAgentUpdate(obj.(*janus.Cluster), old.(*janus.Cluster))
}

var (
	_ rest.RESTCreateUpdateStrategy = clusterStrategy{}
	_ rest.RESTUpdateStrategy       = clusterAgentStrategy{}
)
