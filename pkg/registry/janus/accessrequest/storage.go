package accessrequest

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/validation"
	"github.com/infroware/janus/pkg/events"
	"github.com/infroware/janus/pkg/session"
)

// Options are what the AccessRequest storage needs besides its storage backend.
type Options struct {
	// Clusters reads the Cluster a request is for.
	Clusters ClusterGetter
	// Authorizer answers the second gate: verb approve on clusters/<name>.
	Authorizer authorizer.Authorizer
	// Policy holds the server-wide limits.
	Policy validation.Policy
	// AllowSelfApproval lets requesters approve and extend their own requests.
	AllowSelfApproval bool
	// Recorder records an Event for every request and decision.
	Recorder record.EventRecorder
	// Sessions carries exec and log streams to the agents.
	Sessions *session.Engine
	// Records writes each exec session's Session.
	Records SessionRecords
	// Agents reads pods and Events through the agents.
	Agents AgentGetter
}

// Storage is the AccessRequest resource and all its subresources.
type Storage struct {
	AccessRequest *REST
	Status        *StatusREST
	Approve       *DecisionREST
	Deny          *DecisionREST
	Revoke        *DecisionREST
	Withdraw      *DecisionREST
	Extend        *DecisionREST
	Exec          *ExecREST
	Log           *LogREST
	Pods          *PodsREST
	Events        *EventsREST
}

// Resources maps resource paths ("accessrequests", "accessrequests/approve",
// ...) to their storage, ready for an APIGroupInfo.
func (s *Storage) Resources() map[string]rest.Storage {
	return map[string]rest.Storage{
		"accessrequests":          s.AccessRequest,
		"accessrequests/status":   s.Status,
		"accessrequests/approve":  s.Approve,
		"accessrequests/deny":     s.Deny,
		"accessrequests/revoke":   s.Revoke,
		"accessrequests/withdraw": s.Withdraw,
		"accessrequests/extend":   s.Extend,
		"accessrequests/exec":     s.Exec,
		"accessrequests/log":      s.Log,
		"accessrequests/pods":     s.Pods,
		"accessrequests/events":   s.Events,
	}
}

// REST is the storage of AccessRequests.
type REST struct {
	*genericregistry.Store
}

// ShortNames implements rest.ShortNamesProvider.
func (*REST) ShortNames() []string { return []string{"ar"} }

// Categories implements rest.CategoriesProvider.
func (*REST) Categories() []string { return []string{"janus"} }

// NewStorage builds the AccessRequest storage. Every subresource store is a
// copy of the main store with its own update strategy, so the storage code
// exists once.
func NewStorage(scheme *runtime.Scheme, optsGetter generic.RESTOptionsGetter, opts Options) (*Storage, error) {
	strategy := accessRequestStrategy{
		ObjectTyper:   scheme,
		NameGenerator: names.SimpleNameGenerator,
		clusters:      opts.Clusters,
		policy:        opts.Policy,
	}
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &janus.AccessRequest{} },
		NewListFunc:               func() runtime.Object { return &janus.AccessRequestList{} },
		PredicateFunc:             Match,
		DefaultQualifiedResource:  janus.Resource("accessrequests"),
		SingularQualifiedResource: janus.Resource("accessrequest"),

		CreateStrategy:      strategy,
		UpdateStrategy:      strategy,
		DeleteStrategy:      strategy,
		ResetFieldsStrategy: strategy,

		TableConvertor: tableConvertor{},
		AfterCreate: func(obj runtime.Object, options *metav1.CreateOptions) {
			if len(options.DryRun) > 0 {
				return
			}
			ar := obj.(*janus.AccessRequest)
			opts.Recorder.Eventf(events.Ref(ar), corev1.EventTypeNormal, "Requested", "%s requested access to %s in cluster %s for %s: %s",
				ar.Spec.Requester.Username, strings.Join(ar.Spec.Namespaces, ","), ar.Spec.Cluster, ar.Spec.Duration.Duration, ar.Spec.Reason)
		},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, fmt.Errorf("completing accessrequest storage: %w", err)
	}

	statusStore := *store
	status := statusStrategy{strategy}
	statusStore.UpdateStrategy = status
	statusStore.ResetFieldsStrategy = status

	authz := decisionAuthorizer{authorizer: opts.Authorizer, allowSelfApproval: opts.AllowSelfApproval}
	decisionREST := func(a decision) *DecisionREST {
		return &DecisionREST{store: &statusStore, decision: a, recorder: opts.Recorder}
	}
	return &Storage{
		AccessRequest: &REST{store},
		Status:        &StatusREST{store: &statusStore},
		Approve:       decisionREST(approveDecision{authz: authz, clusters: opts.Clusters, policy: opts.Policy}),
		Deny:          decisionREST(denyDecision{authz: authz}),
		Revoke:        decisionREST(revokeDecision{authz: authz}),
		Withdraw:      decisionREST(withdrawDecision{authz: authz}),
		Extend:        decisionREST(extendDecision{authz: authz, clusters: opts.Clusters, policy: opts.Policy}),
		Exec:          &ExecREST{store: store, status: &statusStore, engine: opts.Sessions, records: opts.Records, recorder: opts.Recorder},
		Log:           &LogREST{store: store, engine: opts.Sessions},
		Pods:          &PodsREST{store: store, agents: opts.Agents},
		Events:        &EventsREST{store: store, agents: opts.Agents},
	}, nil
}

// StatusREST lets Janus's own controller and agents report status.
type StatusREST struct {
	store *genericregistry.Store
}

func (r *StatusREST) New() runtime.Object { return &janus.AccessRequest{} }

func (r *StatusREST) Destroy() {}

func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return updateObserved(ctx, r.store, name, objInfo, createValidation, updateValidation, options)
}

func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
