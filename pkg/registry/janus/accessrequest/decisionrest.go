package accessrequest

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus"
	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/events"
)

// decision is one kind of decision posted to an AccessRequest subresource
// (approve, deny, revoke, withdraw, extend): the verb, its body, who may
// take it, and what it does.
type decision interface {
	// name is the verb as users read it ("approve", "revoke", ...).
	name() string
	// kind is the kind of the decision's body ("Approval", ...).
	kind() string
	// newBody returns an empty body of the decision's kind.
	newBody() runtime.Object
	// authorize decides whether u may take the decision on ar.
	authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error
	// validate checks the body; it runs after authorization so that callers
	// without permission learn nothing from validation errors.
	validate(ctx context.Context, body runtime.Object, ar *janus.AccessRequest) error
	// apply changes ar, a private copy of the stored object, or returns a
	// Conflict when the request's phase does not allow the decision.
	apply(ctx context.Context, d decisionContext, ar *janus.AccessRequest) error
	// eventReason is the reason of the Event that records the decision on
	// ar, the request as the decision left it.
	eventReason(ar *janus.AccessRequest) string
}

// decisionContext is what a decision needs to change a request.
type decisionContext struct {
	user user.Info
	body runtime.Object
	now  metav1.Time
}

// DecisionREST serves one decision subresource: POST a body, get back the
// updated AccessRequest.
type DecisionREST struct {
	store    *genericregistry.Store
	decision decision
	recorder record.EventRecorder
}

var (
	_ rest.NamedCreater    = &DecisionREST{}
	_ rest.StorageMetadata = &DecisionREST{}
)

func (r *DecisionREST) New() runtime.Object { return r.decision.newBody() }

func (r *DecisionREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *DecisionREST) ProducesMIMETypes(string) []string { return nil }

// ProducesObject tells the OpenAPI builder that the response is the request.
func (r *DecisionREST) ProducesObject(string) interface{} { return v1alpha1.AccessRequest{} }

// Create takes the decision. The update is optimistic: the decision was made
// against the phase the caller saw (or, when the body's metadata names one,
// the exact resourceVersion), and if another decision changes it first, this
// one loses with 409 Conflict rather than being applied to a request in a
// state nobody looked at.
func (r *DecisionREST) Create(ctx context.Context, name string, body runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no authenticated user")
	}
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	current := obj.(*janus.AccessRequest)
	if err := r.decision.authorize(ctx, u, current); err != nil {
		return nil, err
	}
	if err := r.decision.validate(ctx, body, current); err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, body); err != nil {
			return nil, err
		}
	}

	observed := current.Status.Phase
	// A body may name the resourceVersion its author decided on; then any
	// change since — even another approval — makes this decision lose.
	var observedVersion string
	if m, err := meta.Accessor(body); err == nil {
		observedVersion = m.GetResourceVersion()
	}
	d := decisionContext{user: u, body: body, now: metav1.NewTime(time.Now().Truncate(time.Second))}
	decide := func(_ context.Context, _, oldObj runtime.Object) (runtime.Object, error) {
		ar := oldObj.(*janus.AccessRequest).DeepCopy()
		if observedVersion != "" && ar.ResourceVersion != observedVersion {
			return nil, apierrors.NewConflict(janus.Resource("accessrequests"), name,
				fmt.Errorf("the request changed since resourceVersion %s that your %s was based on; look at it again", observedVersion, r.decision.name()))
		}
		if ar.DeletionTimestamp != nil {
			// Deleting the request revokes it; nothing may be decided since.
			return nil, apierrors.NewConflict(janus.Resource("accessrequests"), name,
				fmt.Errorf("cannot %s a request that is being deleted", r.decision.name()))
		}
		if ar.Status.Phase != observed {
			return nil, apierrors.NewConflict(janus.Resource("accessrequests"), name,
				fmt.Errorf("the request moved from %s to %s while your %s was being applied; look at it again", observed, ar.Status.Phase, r.decision.name()))
		}
		if err := r.decision.apply(ctx, d, ar); err != nil {
			return nil, err
		}
		return ar, nil
	}
	updated, _, err := updateObserved(ctx, r.store, name, rest.DefaultUpdatedObjectInfo(nil, decide),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc,
		&metav1.UpdateOptions{DryRun: opts.DryRun, FieldManager: opts.FieldManager})
	if err != nil {
		return nil, err
	}
	ar := updated.(*janus.AccessRequest)
	if len(opts.DryRun) == 0 {
		klog.InfoS("AccessRequest decision", "request", name, "verb", r.decision.name(), "user", u.GetName(), "phase", ar.Status.Phase)
		r.recorder.Event(events.Ref(ar), corev1.EventTypeNormal, r.decision.eventReason(ar), ar.Status.Message)
	}
	return ar, nil
}

// invalid is the 422 for a body that fails validation, or nil.
func invalid(a decision, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(janus.Kind(a.kind()), name, errs)
}

// clusterOf reads the Cluster a request is for. A request whose cluster was
// unregistered can still be denied, revoked or withdrawn, but not granted.
func clusterOf(ctx context.Context, clusters ClusterGetter, ar *janus.AccessRequest) (*janus.Cluster, error) {
	cluster, err := clusters.GetCluster(ctx, ar.Spec.Cluster)
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewConflict(janus.Resource("accessrequests"), ar.Name,
			fmt.Errorf("cluster %q is no longer registered", ar.Spec.Cluster))
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster %q: %w", ar.Spec.Cluster, err)
	}
	return cluster, nil
}

// phaseConflict is the 409 for a decision the current phase does not allow.
func phaseConflict(ar *janus.AccessRequest, verb string) error {
	return apierrors.NewConflict(janus.Resource("accessrequests"), ar.Name,
		fmt.Errorf("cannot %s a request that is %s", verb, ar.Status.Phase))
}
