package pages

import (
	"net/http"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/live"
)

// decisionView is one person's decision as the detail page lists it.
type decisionView struct {
	User, Reason, Duration string
	Time                   time.Time
}

func decisionViewOf(d v1alpha1.Decision) decisionView {
	v := decisionView{User: d.User, Reason: d.Reason, Time: d.Time.Time}
	if d.Duration != nil {
		v.Duration = shortDuration(d.Duration.Duration)
	}
	return v
}

// detailView is what the detail page shows of one request.
type detailView struct {
	requestView
	Requested, Granted string
	ActivatedAt        time.Time
	ApprovalList       []decisionView
	Extensions         []decisionView
	Decision           *decisionView
	Timeline           []timelineEntry
	// EventsError is the API's answer when the Events could not be listed;
	// the timeline then holds only what the request records.
	EventsError *APIError
	// EndsLabel names ExpiresAt where it still means something: Ends while
	// the access is to come or live, Ended once it ran its course, and
	// nothing when someone ended it earlier.
	EndsLabel string
	Grants    []v1alpha1.Grant
	// GrantsRemoved is the Provisioned condition once it turned False: the
	// grants listed are gone from the cluster.
	GrantsRemoved *metav1.Condition
	Sessions      []sessionView
	SessionsError *APIError
}

// eventsNamespace is where Janus's recorder files the Events about
// AccessRequests: they are cluster-scoped, so the Events land in default
// (as kubectl janus describe reads them).
const eventsNamespace = metav1.NamespaceDefault

func (h *Handler) detail(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	ar, err := c.Janus.JanusV1alpha1().AccessRequests().Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		h.r.renderAPIError(w, id, "Request "+name, "/", err)
		return
	}
	v := detailView{requestView: viewOf(ar), Requested: shortDuration(ar.Spec.Duration.Duration), ActivatedAt: timeOf(ar.Status.ActivatedAt)}
	if g := ar.Status.GrantedDuration; g != nil {
		v.Granted = shortDuration(g.Duration)
	}
	// Only the requester may withdraw (the API compares name and UID).
	v.CanWithdraw = v.CanWithdraw && ar.Spec.Requester.Username == id.Username && ar.Spec.Requester.UID == id.UID
	d := newDeciding(r.Context(), c, id)
	d.offer(&v.requestView, ar)
	v.Back = "/requests/" + name

	events, err := c.Kube.CoreV1().Events(eventsNamespace).List(r.Context(), metav1.ListOptions{
		FieldSelector: fields.Set{
			"involvedObject.kind": "AccessRequest", "involvedObject.name": ar.Name, "involvedObject.uid": string(ar.UID),
		}.String(),
	})
	if err != nil {
		v.EventsError = APIErrorOf(err)
		v.Timeline = timelineOf(ar, nil)
	} else {
		v.Timeline = timelineOf(ar, events.Items)
	}
	for _, a := range ar.Status.Approvals {
		v.ApprovalList = append(v.ApprovalList, decisionViewOf(a))
	}
	for _, e := range ar.Status.Extensions {
		v.Extensions = append(v.Extensions, decisionViewOf(e))
	}
	if d := ar.Status.Decision; d != nil {
		dv := decisionViewOf(*d)
		v.Decision = &dv
	}
	switch ar.Status.Phase {
	case v1alpha1.AccessRequestApproved, v1alpha1.AccessRequestActive:
		v.EndsLabel = "Ends"
	case v1alpha1.AccessRequestExpired:
		v.EndsLabel = "Ended"
	}
	v.Grants = ar.Status.Grants
	if c := meta.FindStatusCondition(ar.Status.Conditions, v1alpha1.ConditionProvisioned); c != nil && c.Status == metav1.ConditionFalse {
		v.GrantsRemoved = c
	}
	sessions, err := c.Janus.JanusV1alpha1().Sessions().List(r.Context(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldSessionRequest, name).String(),
	})
	if err != nil {
		v.SessionsError = APIErrorOf(err)
	} else {
		v.Sessions = sessionViewsOf(sessions.Items, h.now())
		for i := range v.Sessions {
			v.Sessions[i].CanFollow = v.Sessions[i].Phase == v1alpha1.SessionOpen && d.mayDecide(ar.Spec.Cluster)
		}
	}
	h.r.render(w, http.StatusOK, "detail", page{Title: "Request " + name, User: id, Data: v, Live: live.For(live.Request(name), ar.ResourceVersion, r)})
}

// sessionViewsOf shows a request's Sessions, oldest first.
func sessionViewsOf(sessions []v1alpha1.Session, now time.Time) []sessionView {
	slices.SortFunc(sessions, func(a, b v1alpha1.Session) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	views := make([]sessionView, 0, len(sessions))
	for i := range sessions {
		views = append(views, sessionViewOf(&sessions[i], now))
	}
	return views
}
