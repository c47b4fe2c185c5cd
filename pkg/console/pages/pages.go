package pages

import (
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/live"
	"github.com/infroware/janus/pkg/console/signin"
)

// ClientsFor returns the API clients acting as a person.
type ClientsFor func(signin.Identity) (*kubeclient.Clients, error)

// Handler serves the pages.
type Handler struct {
	clients ClientsFor
	r       *renderer
	now     func() time.Time
}

// New returns a Handler rendering the templates of files (web.FS).
func New(files fs.FS, clients ClientsFor, now func() time.Time) (*Handler, error) {
	if now == nil {
		now = time.Now
	}
	r, err := newRenderer(files, now)
	if err != nil {
		return nil, err
	}
	if err := r.addSessionPages(files); err != nil {
		return nil, err
	}
	return &Handler{clients: clients, r: r, now: now}, nil
}

// Register adds the pages to mux, each wrapped by requireUser.
func (h *Handler) Register(mux *http.ServeMux, requireUser func(http.Handler) http.Handler) {
	handle := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, requireUser(f)) }
	handle("GET /{$}", h.myRequests)
	handle("GET /request", h.requestForm)
	handle("POST /request", h.createRequest)
	handle("GET /approvals", h.approvals)
	handle("POST /requests/{name}/withdraw", h.withdraw)
	handle("POST /requests/{name}/approve", h.approve)
	handle("POST /requests/{name}/deny", h.deny)
	handle("GET /requests/{name}", h.detail)
	handle("POST /requests/{name}/revoke", h.revoke)
	handle("POST /requests/{name}/extend", h.extend)
	handle("GET /sessions", h.sessions)
	handle("GET /sessions/{name}", h.replay)
	handle("GET /sessions/{name}/state", h.sessionState)
	handle("GET /sessions/{name}/recording", h.recording)
	handle("GET /sessions/{name}/follow", h.follow)
	handle("GET /sessions/{name}/follow/stream", h.followStream)
	handle("POST /sessions/{name}/terminate", h.terminate)
	mux.HandleFunc("GET /signed-out", func(w http.ResponseWriter, _ *http.Request) {
		h.r.render(w, http.StatusOK, "signedout", page{Title: "Signed out"})
	})
}

// person returns the signed-in identity and clients acting as it.
func (h *Handler) person(w http.ResponseWriter, r *http.Request) (signin.Identity, *kubeclient.Clients, bool) {
	id, ok := signin.FromContext(r.Context())
	if !ok {
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return id, nil, false
	}
	c, err := h.clients(id)
	if err != nil {
		klog.ErrorS(err, "Building clients", "user", id.Username)
		http.Error(w, "the console cannot reach the API", http.StatusInternalServerError)
		return id, nil, false
	}
	return id, c, true
}

// requestView is one AccessRequest as the pages show it.
type requestView struct {
	Name, Cluster, Requester, Reason, Message string
	Phase                                     v1alpha1.AccessRequestPhase
	Namespaces                                []string
	Duration                                  string
	Approvals, Required                       int
	Created, ExpiresAt                        time.Time
	CanWithdraw, CanDecide, Own               bool
	DurationChoices                           []string
	// CanRevoke and CanExtend offer those decisions on an approved or
	// active request; MayNotDecide says the API would refuse this person
	// any decision on the request's cluster.
	CanRevoke, CanExtend, MayNotDecide bool
	// ExtendChoices are bounded by the Cluster's MaxDuration when it has
	// one; AtLimit says the request already ends at that bound.
	ExtendChoices []string
	AtLimit       bool
	MaxDuration   string
	// Back is the page the decision forms return to.
	Back string
}

func viewOf(ar *v1alpha1.AccessRequest) requestView {
	required := int(ar.Status.RequiredApprovals)
	if required == 0 {
		required = 1
	}
	d := ar.Spec.Duration.Duration
	if ar.Status.GrantedDuration != nil {
		d = ar.Status.GrantedDuration.Duration
	}
	phase := ar.Status.Phase
	if phase == "" {
		phase = v1alpha1.AccessRequestPending
	}
	return requestView{
		Name: ar.Name, Cluster: ar.Spec.Cluster, Requester: ar.Spec.Requester.Username,
		Reason: ar.Spec.Reason, Message: ar.Status.Message, Phase: phase,
		Namespaces: ar.Spec.Namespaces, Duration: shortDuration(d),
		Approvals: len(ar.Status.Approvals), Required: required,
		Created: ar.CreationTimestamp.Time, ExpiresAt: timeOf(ar.Status.ExpiresAt),
		CanWithdraw: phase == v1alpha1.AccessRequestPending || phase == v1alpha1.AccessRequestApproved || phase == v1alpha1.AccessRequestActive,
	}
}

func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	if s == "" {
		return "0s"
	}
	return s
}

func sortNewestFirst(items []v1alpha1.AccessRequest) {
	slices.SortFunc(items, func(a, b v1alpha1.AccessRequest) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
}

func (h *Handler) myRequests(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	list, err := c.Janus.JanusV1alpha1().AccessRequests().List(r.Context(), metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldRequesterUsername, id.Username).String(),
	})
	p := page{Title: "My requests", Nav: "mine", User: id}
	if err != nil {
		p.APIError = APIErrorOf(err)
		h.r.render(w, int(p.APIError.Code), "myrequests", p)
		return
	}
	sortNewestFirst(list.Items)
	var views []requestView
	for i := range list.Items {
		views = append(views, viewOf(&list.Items[i]))
	}
	if n := r.URL.Query().Get("created"); n != "" {
		p.Notice = "Requested: " + n + ". Approvers see it in their queue."
	}
	p.Data = struct{ Requests []requestView }{views}
	p.Live = live.For(live.Mine(), list.ResourceVersion, r)
	h.r.render(w, http.StatusOK, "myrequests", p)
}

// requestForm is what the request form shows.
type requestForm struct {
	Cluster, Duration, Reason string
	Namespaces                []string
}

type clusterOption struct{ Name, Label string }
type namespaceOption struct {
	Name    string
	Checked bool
}

func (h *Handler) requestForm(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	form := requestForm{Cluster: r.URL.Query().Get("cluster"), Duration: "1h"}
	h.renderRequestForm(w, r.Context(), id, c, form, nil, nil, http.StatusOK)
}

func (h *Handler) renderRequestForm(w http.ResponseWriter, ctx context.Context, id signin.Identity, c *kubeclient.Clients, form requestForm, fieldErrors map[string]string, apiErr *APIError, status int) {
	p := page{Title: "Request access", Nav: "request", User: id, APIError: apiErr}
	clusters, err := c.Janus.JanusV1alpha1().Clusters().List(ctx, metav1.ListOptions{})
	if err != nil {
		p.APIError = APIErrorOf(err)
		status = int(p.APIError.Code)
	}
	data := struct {
		Form        requestForm
		Clusters    []clusterOption
		Namespaces  []namespaceOption
		MaxDuration string
		FieldErrors map[string]string
	}{Form: form, FieldErrors: fieldErrors}
	if clusters != nil {
		slices.SortFunc(clusters.Items, func(a, b v1alpha1.Cluster) int { return strings.Compare(a.Name, b.Name) })
		for _, cl := range clusters.Items {
			label := cl.Name
			if cl.Spec.DisplayName != "" {
				label = cl.Spec.DisplayName + " (" + cl.Name + ")"
			}
			if !cl.Status.Agent.Connected {
				label += " — agent not connected"
			}
			data.Clusters = append(data.Clusters, clusterOption{Name: cl.Name, Label: label})
		}
		if data.Form.Cluster == "" && len(clusters.Items) > 0 {
			data.Form.Cluster = clusters.Items[0].Name
		}
		for _, cl := range clusters.Items {
			if cl.Name != data.Form.Cluster {
				continue
			}
			for _, ns := range cl.Status.Namespaces {
				if slices.Contains(cl.Spec.ExcludedNamespaces, ns) {
					continue
				}
				data.Namespaces = append(data.Namespaces, namespaceOption{Name: ns, Checked: slices.Contains(form.Namespaces, ns)})
			}
			if cl.Spec.MaxDuration != nil {
				data.MaxDuration = shortDuration(cl.Spec.MaxDuration.Duration)
			}
		}
	}
	p.Data = data
	h.r.render(w, status, "request", p)
}

// fieldOf names the form field an API error path is about.
func fieldOf(path string) string {
	switch {
	case strings.HasPrefix(path, "spec.duration"):
		return "duration"
	case strings.HasPrefix(path, "spec.namespaces"):
		return "namespaces"
	case strings.HasPrefix(path, "spec.reason"):
		return "reason"
	case strings.HasPrefix(path, "spec.cluster"):
		return "cluster"
	}
	return ""
}

func (h *Handler) createRequest(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read the form", http.StatusBadRequest)
		return
	}
	form := requestForm{
		Cluster: r.PostForm.Get("cluster"), Duration: strings.TrimSpace(r.PostForm.Get("duration")),
		Reason: r.PostForm.Get("reason"), Namespaces: r.PostForm["namespace"],
	}
	d, err := time.ParseDuration(form.Duration)
	if err != nil {
		h.renderRequestForm(w, r.Context(), id, c, form, map[string]string{"duration": fmt.Sprintf("%q is not a duration such as 30m or 2h", form.Duration)}, nil, http.StatusUnprocessableEntity)
		return
	}
	ar := &v1alpha1.AccessRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-"},
		Spec: v1alpha1.AccessRequestSpec{
			Cluster: form.Cluster, Namespaces: form.Namespaces,
			Duration: metav1.Duration{Duration: d}, Reason: form.Reason,
		},
	}
	created, err := c.Janus.JanusV1alpha1().AccessRequests().Create(r.Context(), ar, metav1.CreateOptions{})
	if err != nil {
		fieldErrors := map[string]string{}
		apiErr := APIErrorOf(err)
		var statusErr *apierrors.StatusError
		if apierrors.IsInvalid(err) && asStatusError(err, &statusErr) && statusErr.ErrStatus.Details != nil {
			unplaced := false
			for _, cause := range statusErr.ErrStatus.Details.Causes {
				if f := fieldOf(cause.Field); f != "" {
					msg := cause.Field + ": " + cause.Message
					if prev := fieldErrors[f]; prev != "" {
						msg = prev + "; " + msg
					}
					fieldErrors[f] = msg
				} else {
					unplaced = true
				}
			}
			if !unplaced && len(fieldErrors) > 0 {
				apiErr = nil // every cause is shown beside its field
			}
		}
		h.renderRequestForm(w, r.Context(), id, c, form, fieldErrors, apiErr, int(APIErrorOf(err).Code))
		return
	}
	klog.InfoS("Access requested", "user", id.Username, "request", created.Name, "cluster", created.Spec.Cluster)
	http.Redirect(w, r, "/?created="+url.QueryEscape(created.Name), http.StatusSeeOther)
}

func (h *Handler) approvals(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	p := page{Title: "Approvals", Nav: "approvals", User: id}
	// One list for both sections: what is still open to a decision.
	list, err := c.Janus.JanusV1alpha1().AccessRequests().List(r.Context(), metav1.ListOptions{FieldSelector: openSelector})
	if err != nil {
		if apierrors.IsForbidden(err) {
			// Not a requester or approver: no queue, and the API's words.
			p.APIError = APIErrorOf(err)
			p.Data = struct{ QueueHidden bool }{true}
			h.r.render(w, http.StatusOK, "approvals", p)
			return
		}
		p.APIError = APIErrorOf(err)
		p.Data = struct{ QueueHidden bool }{true}
		h.r.render(w, int(p.APIError.Code), "approvals", p)
		return
	}
	sortNewestFirst(list.Items)
	d := newDeciding(r.Context(), c, id)
	var views, running []requestView
	for i := range list.Items {
		v := viewOf(&list.Items[i])
		d.offer(&v, &list.Items[i])
		v.Back = "/approvals"
		switch {
		case v.Phase == v1alpha1.AccessRequestPending:
			views = append(views, v)
		case v.CanRevoke || v.CanExtend:
			running = append(running, v)
		}
	}
	sessions, sessionsErr := openSessions(r.Context(), c, d, h.now())
	p.Data = struct {
		QueueHidden     bool
		Pending, Active []requestView
		LiveSessions    []sessionView
		SessionsError   *APIError
	}{false, views, running, sessions, sessionsErr}
	p.Live = live.For(live.All(), list.ResourceVersion, r)
	h.r.render(w, http.StatusOK, "approvals", p)
}

// durationChoices are the shorter grants an approver may pick.
func durationChoices(requested time.Duration) []string {
	var out []string
	for _, d := range []time.Duration{15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour} {
		if d < requested {
			out = append(out, shortDuration(d))
		}
	}
	return out
}
