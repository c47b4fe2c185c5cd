package session

import (
	"context"
	"fmt"

	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/recording"
)

// REST serves Sessions read-only: get, list and watch. It has no create,
// update or delete, so no RBAC rule can let anyone write an audit record.
type REST struct {
	store *genericregistry.Store
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.CategoriesProvider   = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.Storage              = &REST{}
)

// Storage is the Session resource as served, its subresources, and
// Janus's own store of it.
type Storage struct {
	Session   *REST
	Recording *RecordingREST
	Attach    *AttachREST
	Terminate *TerminateREST
	// Store is how Janus writes Sessions: created when a session opens,
	// updated when it ends, deleted after --session-retention. It is not
	// served.
	Store *genericregistry.Store
}

// Resources maps resource paths to their storage, ready for an
// APIGroupInfo.
func (s *Storage) Resources() map[string]rest.Storage {
	return map[string]rest.Storage{
		"sessions":           s.Session,
		"sessions/recording": s.Recording,
		"sessions/attach":    s.Attach,
		"sessions/terminate": s.Terminate,
	}
}

// Options are what the subresources need besides storage.
type Options struct {
	// Authorizer answers the second gate: approve or audit on
	// clusters/<name>.
	Authorizer authorizer.Authorizer
	// Recordings is where sessions are recorded; nil when they are not.
	Recordings recording.Store
	// Live are the sessions this replica relays.
	Live LiveSessions
	// Peers reach the replicas relaying the others; nil without peering.
	Peers Peers
	// ReplicaName is this replica's name, as Sessions' status.server
	// holds it.
	ReplicaName string
}

// NewStorage returns the storage of Sessions.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (*Storage, error) {
	strategy := newStrategy(scheme)
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &janus.Session{} },
		NewListFunc:               func() runtime.Object { return &janus.SessionList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  janus.Resource("sessions"),
		SingularQualifiedResource: janus.Resource("session"),

		CreateStrategy: strategy,
		UpdateStrategy: strategy,
		DeleteStrategy: strategy,

		TableConvertor: tableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, fmt.Errorf("completing session storage: %w", err)
	}
	g := gate{authorizer: opts.Authorizer}
	rl := relay{store: store, peers: opts.Peers, self: opts.ReplicaName}
	return &Storage{
		Session:   &REST{store: store},
		Recording: &RecordingREST{store: store, recordings: opts.Recordings, gate: g},
		Attach:    &AttachREST{store: store, live: opts.Live, gate: g, relay: rl},
		Terminate: &TerminateREST{store: store, live: opts.Live, gate: g, relay: rl},
		Store:     store,
	}, nil
}

func (r *REST) New() runtime.Object     { return &janus.Session{} }
func (r *REST) NewList() runtime.Object { return &janus.SessionList{} }
func (r *REST) Destroy()                { r.store.Destroy() }
func (r *REST) NamespaceScoped() bool   { return false }
func (r *REST) GetSingularName() string { return "session" }

// ShortNames implements rest.ShortNamesProvider.
func (r *REST) ShortNames() []string { return []string{"jsess"} }

// Categories implements rest.CategoriesProvider.
func (r *REST) Categories() []string { return []string{"janus"} }

func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.store.List(ctx, options)
}

func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.store.Watch(ctx, options)
}

func (r *REST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
