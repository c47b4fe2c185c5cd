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

// action is one kind of decision posted to an AccessRequest subresource.
type action interface {
	// name is the verb as users read it ("approve", "revoke", ...).
	name() string
	// kind is the kind of the action's body ("Approval", ...).
	kind() string
	// newBody returns an empty body of the action's kind.
	newBody() runtime.Object
	// authorize decides whether u may take the action on ar.
	authorize(ctx context.Context, u user.Info, ar *janus.AccessRequest) error
	// validate checks the body; it runs after authorization so that callers
	// without permission learn nothing from validation errors.
	validate(ctx context.Context, body runtime.Object, ar *janus.AccessRequest) error
	// apply changes ar, a private copy of the stored object, or returns a
	// Conflict when the request's phase does not allow the action.
	apply(ctx context.Context, d decisionContext, ar *janus.AccessRequest) error
}

// decisionContext is what an action needs to change a request.
type decisionContext struct {
	user user.Info
	body runtime.Object
	now  metav1.Time
}

// ActionREST serves one action subresource: POST a body, get back the
// updated AccessRequest.
type ActionREST struct {
	store    *genericregistry.Store
	action   action
	recorder record.EventRecorder
}

var (
	_ rest.NamedCreater    = &ActionREST{}
	_ rest.StorageMetadata = &ActionREST{}
)

func (r *ActionREST) New() runtime.Object { return r.action.newBody() }

func (r *ActionREST) Destroy() {}

// ProducesMIMETypes implements rest.StorageMetadata.
func (r *ActionREST) ProducesMIMETypes(string) []string { return nil }

// ProducesObject tells the OpenAPI builder that the response is the request.
func (r *ActionREST) ProducesObject(string) interface{} { return v1alpha1.AccessRequest{} }

// Create takes the decision. The update is optimistic: the decision was made
// against the phase the caller saw (or, when the body's metadata names one,
// the exact resourceVersion), and if another decision changes it first, this
// one loses with 409 Conflict rather than being applied to a request in a
// state nobody looked at.
func (r *ActionREST) Create(ctx context.Context, name string, body runtime.Object, createValidation rest.ValidateObjectFunc, opts *metav1.CreateOptions) (runtime.Object, error) {
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewUnauthorized("no authenticated user")
	}
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	current := obj.(*janus.AccessRequest)
	if err := r.action.authorize(ctx, u, current); err != nil {
		return nil, err
	}
	if err := r.action.validate(ctx, body, current); err != nil {
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
				fmt.Errorf("the request changed since resourceVersion %s that your %s was based on; look at it again", observedVersion, r.action.name()))
		}
		if ar.DeletionTimestamp != nil {
			// Deleting the request revokes it; nothing may be decided since.
			return nil, apierrors.NewConflict(janus.Resource("accessrequests"), name,
				fmt.Errorf("cannot %s a request that is being deleted", r.action.name()))
		}
		if ar.Status.Phase != observed {
			return nil, apierrors.NewConflict(janus.Resource("accessrequests"), name,
				fmt.Errorf("the request moved from %s to %s while your %s was being applied; look at it again", observed, ar.Status.Phase, r.action.name()))
		}
		if err := r.action.apply(ctx, d, ar); err != nil {
			return nil, err
		}
		return ar, nil
	}
	updated, _, err := r.store.Update(ctx, name, rest.DefaultUpdatedObjectInfo(nil, decide),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false,
		&metav1.UpdateOptions{DryRun: opts.DryRun, FieldManager: opts.FieldManager})
	if err != nil {
		return nil, err
	}
	ar := updated.(*janus.AccessRequest)
	if len(opts.DryRun) == 0 {
		klog.InfoS("AccessRequest decision", "request", name, "action", r.action.name(), "user", u.GetName(), "phase", ar.Status.Phase)
		reason := eventReasons[r.action.name()]
		if r.action.name() == "approve" && ar.Status.Phase == janus.AccessRequestPending {
			reason = "ApprovalRecorded"
		}
		r.recorder.Event(events.Ref(ar), corev1.EventTypeNormal, reason, ar.Status.Message)
	}
	return ar, nil
}

// eventReasons name the Event each decision records.
var eventReasons = map[string]string{
	"approve":  "Approved",
	"deny":     "Denied",
	"revoke":   "Revoked",
	"withdraw": "Withdrawn",
	"extend":   "Extended",
}

// invalid is the 422 for a body that fails validation, or nil.
func invalid(a action, name string, errs field.ErrorList) error {
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

// phaseConflict is the 409 for an action the current phase does not allow.
func phaseConflict(ar *janus.AccessRequest, action string) error {
	return apierrors.NewConflict(janus.Resource("accessrequests"), ar.Name,
		fmt.Errorf("cannot %s a request that is %s", action, ar.Status.Phase))
}
