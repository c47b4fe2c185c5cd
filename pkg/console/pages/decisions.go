package pages

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/signin"
)

// deciding works out, for one page view, which decisions the person may be
// offered: it asks the API once per cluster (SelfSubjectAccessReview for
// approve on clusters/<name>) and reads each Cluster's maximum once. It only
// decides which buttons to show; the API decides again on every POST.
type deciding struct {
	ctx   context.Context
	c     *kubeclient.Clients
	id    signin.Identity
	may   map[string]bool
	maxes map[string]time.Duration
}

func newDeciding(ctx context.Context, c *kubeclient.Clients, id signin.Identity) *deciding {
	return &deciding{ctx: ctx, c: c, id: id, may: map[string]bool{}, maxes: map[string]time.Duration{}}
}

func (d *deciding) mayDecide(cluster string) bool {
	may, seen := d.may[cluster]
	if !seen {
		var err error
		may, err = d.c.CanApprove(d.ctx, cluster)
		if err != nil {
			klog.ErrorS(err, "SelfSubjectAccessReview failed", "user", d.id.Username, "cluster", cluster)
			may = false
		}
		d.may[cluster] = may
	}
	return may
}

// clusterMax is the Cluster's spec.maxDuration, or 0 when it sets none or
// cannot be read (the API still caps every extension).
func (d *deciding) clusterMax(cluster string) time.Duration {
	limit, seen := d.maxes[cluster]
	if !seen {
		cl, err := d.c.Janus.JanusV1alpha1().Clusters().Get(d.ctx, cluster, metav1.GetOptions{})
		switch {
		case err != nil:
			klog.V(2).InfoS("Reading the cluster's maximum duration", "user", d.id.Username, "cluster", cluster, "err", err)
		case cl.Spec.MaxDuration != nil:
			limit = cl.Spec.MaxDuration.Duration
		}
		d.maxes[cluster] = limit
	}
	return limit
}

// offer fills in the decisions v may offer on ar. Nobody is offered a
// decision on their own request: as the API, the same name or the same UID
// under another name counts as the requester.
func (d *deciding) offer(v *requestView, ar *v1alpha1.AccessRequest) {
	v.Own = ar.Spec.Requester.Username == d.id.Username || (ar.Spec.Requester.UID != "" && ar.Spec.Requester.UID == d.id.UID)
	if v.Own {
		return
	}
	may := d.mayDecide(ar.Spec.Cluster)
	v.MayNotDecide = !may
	switch v.Phase {
	case v1alpha1.AccessRequestPending:
		v.CanDecide = may
		v.DurationChoices = durationChoices(ar.Spec.Duration.Duration)
	case v1alpha1.AccessRequestApproved:
		v.CanRevoke = may
	case v1alpha1.AccessRequestActive:
		v.CanRevoke, v.CanExtend = may, may
		if may {
			limit := d.clusterMax(ar.Spec.Cluster)
			v.ExtendChoices, v.AtLimit = extendChoices(timeOf(ar.Status.ActivatedAt), timeOf(ar.Status.ExpiresAt), limit)
			if limit > 0 {
				v.MaxDuration = shortDuration(limit)
			}
			v.CanExtend = !v.AtLimit
		}
	}
}

// openSelector selects the requests still open to a decision (pending,
// approved, active, or so new that Janus has not set a phase): every phase
// but the final ones.
var openSelector = fields.AndSelectors(
	fields.OneTermNotEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestExpired)),
	fields.OneTermNotEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestDenied)),
	fields.OneTermNotEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestWithdrawn)),
	fields.OneTermNotEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestRevoked)),
	fields.OneTermNotEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.AccessRequestFailed)),
).String()

// backTo is where a decision's form sends the browser afterwards: the page
// it was posted from, when that is one of the console's own pages.
func backTo(r *http.Request, name, fallback string) string {
	switch back := r.PostFormValue("back"); back {
	case "/", "/approvals", "/requests/" + name:
		return back
	}
	return fallback
}

// decide takes one decision POSTed to /requests/{name}/<action> as the
// signed-in person: post sends it to the API. An error is shown as the API
// said it (post's own bad input as a 400 BadRequest); otherwise the browser
// goes back to the page the form came from.
func (h *Handler) decide(w http.ResponseWriter, r *http.Request, doing, done, fallback string, post func(ctx context.Context, c *kubeclient.Clients, name string) error) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read the form", http.StatusBadRequest)
		return
	}
	back := backTo(r, name, fallback)
	if err := post(r.Context(), c, name); err != nil {
		h.r.renderAPIError(w, id, doing+" "+name+" failed", back, err)
		return
	}
	klog.InfoS(done, "user", id.Username, "request", name)
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// formDuration reads a duration field; the API bounds it.
func formDuration(field, s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, apierrors.NewBadRequest(fmt.Sprintf("%s %q is not a duration such as 30m or 2h", field, s))
	}
	return d, nil
}

func (h *Handler) withdraw(w http.ResponseWriter, r *http.Request) {
	h.decide(w, r, "Withdrawing", "Withdrawn", "/", func(ctx context.Context, c *kubeclient.Clients, name string) error {
		_, err := c.Janus.JanusV1alpha1().AccessRequests().Withdraw(ctx, name, &v1alpha1.Withdrawal{Reason: "withdrawn in the console"}, metav1.CreateOptions{})
		return err
	})
}

func (h *Handler) approve(w http.ResponseWriter, r *http.Request) {
	h.decide(w, r, "Approving", "Approved", "/approvals", func(ctx context.Context, c *kubeclient.Clients, name string) error {
		approval := &v1alpha1.Approval{Reason: r.PostForm.Get("reason")}
		if s := r.PostForm.Get("duration"); s != "" {
			d, err := formDuration("duration", s)
			if err != nil {
				return err
			}
			approval.Duration = &metav1.Duration{Duration: d}
		}
		_, err := c.Janus.JanusV1alpha1().AccessRequests().Approve(ctx, name, approval, metav1.CreateOptions{})
		return err
	})
}

func (h *Handler) deny(w http.ResponseWriter, r *http.Request) {
	h.decide(w, r, "Denying", "Denied", "/approvals", func(ctx context.Context, c *kubeclient.Clients, name string) error {
		_, err := c.Janus.JanusV1alpha1().AccessRequests().Deny(ctx, name, &v1alpha1.Denial{Reason: r.PostForm.Get("reason")}, metav1.CreateOptions{})
		return err
	})
}

// revoke: the API requires a reason and says so; the console does not
// second-guess it.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	h.decide(w, r, "Revoking", "Revoked", "/approvals", func(ctx context.Context, c *kubeclient.Clients, name string) error {
		_, err := c.Janus.JanusV1alpha1().AccessRequests().Revoke(ctx, name, &v1alpha1.Revocation{Reason: r.PostForm.Get("reason")}, metav1.CreateOptions{})
		return err
	})
}

// extend: an empty duration goes to the API as zero, which it refuses
// with a 422.
func (h *Handler) extend(w http.ResponseWriter, r *http.Request) {
	h.decide(w, r, "Extending", "Extended", "/approvals", func(ctx context.Context, c *kubeclient.Clients, name string) error {
		ext := &v1alpha1.Extension{Reason: r.PostForm.Get("reason")}
		if s := r.PostForm.Get("duration"); strings.TrimSpace(s) != "" {
			d, err := formDuration("duration", s)
			if err != nil {
				return err
			}
			ext.Duration = metav1.Duration{Duration: d}
		}
		_, err := c.Janus.JanusV1alpha1().AccessRequests().Extend(ctx, name, ext, metav1.CreateOptions{})
		return err
	})
}
