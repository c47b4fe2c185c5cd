package cluster

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/infroware/janus/pkg/apis/janus"
)

// REST is the storage of Clusters.
type REST struct {
	*genericregistry.Store
}

// SubresourceREST serves an update subresource of Clusters — status, or
// agent trust (spec.agent) — through its own copy of the store, whose
// strategy lets only that part change.
type SubresourceREST struct {
	store *genericregistry.Store
}

// Storage is the Cluster resource and its subresources.
type Storage struct {
	Cluster *REST
	Status  *SubresourceREST
	Agent   *SubresourceREST
}

// Resources maps resource paths ("clusters", "clusters/status", ...) to
// their storage, ready for an APIGroupInfo.
func (s *Storage) Resources() map[string]rest.Storage {
	return map[string]rest.Storage{
		"clusters":        s.Cluster,
		"clusters/status": s.Status,
		"clusters/agent":  s.Agent,
	}
}

// NewStorage returns the storage of Clusters and of their status and agent
// subresources. Each subresource store is a copy of the main store with its
// own update strategy.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	strategy := newStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &janus.Cluster{} },
		NewListFunc:               func() runtime.Object { return &janus.ClusterList{} },
		DefaultQualifiedResource:  janus.Resource("clusters"),
		SingularQualifiedResource: janus.Resource("cluster"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter}); err != nil {
		return nil, fmt.Errorf("completing cluster storage: %w", err)
	}

	statusStore := *store
	statusStrategy := clusterStatusStrategy{strategy}
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy

	agentStore := *store
	agentStrategy := clusterAgentStrategy{strategy}
	agentStore.UpdateStrategy = agentStrategy
	agentStore.ResetFieldsStrategy = agentStrategy
	return &Storage{
		Cluster: &REST{store},
		Status:  &SubresourceREST{store: &statusStore},
		Agent:   &SubresourceREST{store: &agentStore},
	}, nil
}

// ShortNames implements rest.ShortNamesProvider.
func (*REST) ShortNames() []string { return []string{"jc"} }

// Categories implements rest.CategoriesProvider.
func (*REST) Categories() []string { return []string{"janus"} }

// GetCluster reads a Cluster straight from storage, so policy decisions
// never act on a stale cache.
func (r *REST) GetCluster(ctx context.Context, name string) (*janus.Cluster, error) {
	obj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*janus.Cluster), nil
}

func (r *SubresourceREST) New() runtime.Object { return &janus.Cluster{} }

func (r *SubresourceREST) Destroy() {}

func (r *SubresourceREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *SubresourceREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// A Cluster is registered through the main resource, never here.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

func (r *SubresourceREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

func (r *SubresourceREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
