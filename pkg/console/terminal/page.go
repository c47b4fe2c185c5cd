package terminal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/pages"
	"github.com/infroware/janus/pkg/console/signin"
	"github.com/infroware/janus/pkg/targetreads"
)

// Shells are the shells the page offers.
var Shells = []string{"sh", "bash"}

// layoutPage is what web/templates/layout.html reads.
type layoutPage struct {
	Title, Nav, Notice string
	User               signin.Identity
	APIError           *pages.APIError
	Data               any
	Live               any
}

// pageView is what terminal.html shows.
type pageView struct {
	Name, Cluster, Requester string
	Phase                    v1alpha1.AccessRequestPhase
	Namespaces               []string
	Namespace, Pod           string
	Container, Shell         string
	Shells                   []string
	ExpiresAt                string
	Own, Active              bool
	// Pane is the pane the link opens; Blank the empty one terminal.js
	// copies for a second pane.
	Pane, Blank paneView
	// Pods are the pods of Namespace as accessrequests/pods lists them;
	// PodsError is the API's answer when it would not, and the page then
	// asks for a pod's name instead.
	Pods      []podView
	PodsError *pages.APIError
	Truncated bool
	// QuickCommands are the Cluster's shared one-click commands
	// (spec.console.quickCommands).
	QuickCommands []v1alpha1.QuickCommand
}

// podView is one pod of the pod picker.
type podView struct {
	Name, Status, Ready, Age string
	Restarts                 int32
	Containers               []string
}

// paneView is one terminal pane: a pod, its container and shell.
type paneView struct{ Namespace, Pod, Container, Shell string }

type pageRenderer struct{ t *template.Template }

func newPageRenderer(files fs.FS) (*pageRenderer, error) {
	funcs := template.FuncMap{
		"join":     strings.Join,
		"rfc3339":  func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		"relative": func(t time.Time) string { return pages.Relative(t, time.Now()) },
		"clock":    func(t time.Time) string { return t.UTC().Format("Jan 2 15:04:05 UTC") },
	}
	t, err := template.New("terminal").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/terminal.html")
	if err != nil {
		return nil, fmt.Errorf("parsing template terminal: %w", err)
	}
	return &pageRenderer{t: t}, nil
}

func (p *pageRenderer) render(w http.ResponseWriter, status int, lp layoutPage) {
	var buf bytes.Buffer
	if err := p.t.ExecuteTemplate(&buf, "layout", lp); err != nil {
		klog.ErrorS(err, "Rendering a page", "page", "terminal")
		http.Error(w, "rendering the page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// request reads the request as the signed-in person.
func (h *Handler) request(r *http.Request) (signin.Identity, *v1alpha1.AccessRequest, error) {
	id, ok := signin.FromContext(r.Context())
	if !ok {
		return id, nil, apierrors.NewUnauthorized("not signed in")
	}
	c, err := h.clients(id)
	if err != nil {
		klog.ErrorS(err, "Building clients", "user", id.Username)
		return id, nil, fmt.Errorf("the console cannot reach the API: %w", err)
	}
	ar, err := c.Janus.JanusV1alpha1().AccessRequests().Get(r.Context(), r.PathValue("name"), metav1.GetOptions{})
	return id, ar, err
}

// servePage shows the terminal of one request; ?namespace=&pod= (and
// container, shell) open a pod directly.
func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id, ar, err := h.request(r)
	lp := layoutPage{Title: "Terminal · " + name, User: id}
	if err != nil {
		lp.APIError = pages.APIErrorOf(err)
		h.page.render(w, statusCode(lp.APIError.Code), lp)
		return
	}
	q := r.URL.Query()
	v := pageView{
		Name: ar.Name, Cluster: ar.Spec.Cluster, Requester: ar.Spec.Requester.Username, Phase: ar.Status.Phase,
		Namespaces: ar.Spec.Namespaces, Namespace: q.Get("namespace"), Pod: strings.TrimSpace(q.Get("pod")),
		Container: strings.TrimSpace(q.Get("container")), Shell: q.Get("shell"), Shells: Shells,
		Own:    ar.Spec.Requester.Username == id.Username,
		Active: ar.Status.Phase == v1alpha1.AccessRequestActive,
	}
	if v.Phase == "" {
		v.Phase = v1alpha1.AccessRequestPending
	}
	if ar.Status.ExpiresAt != nil {
		v.ExpiresAt = ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if !slices.Contains(v.Namespaces, v.Namespace) && len(v.Namespaces) > 0 {
		v.Namespace = v.Namespaces[0]
	}
	if !slices.Contains(Shells, v.Shell) {
		v.Shell = Shells[0]
	}
	v.Pane = paneView{Namespace: v.Namespace, Pod: v.Pod, Container: v.Container, Shell: v.Shell}
	if v.Active && v.Namespace != "" {
		h.listPods(r, id, &v)
		v.QuickCommands = h.quickCommands(r, id, ar.Spec.Cluster)
	}
	lp.Data = v
	h.page.render(w, http.StatusOK, lp)
}

// state is what the page polls: whether the request is still Active, and
// when it ends.
type state struct {
	Phase     v1alpha1.AccessRequestPhase `json:"phase"`
	ExpiresAt string                      `json:"expiresAt,omitempty"`
	Message   string                      `json:"message,omitempty"`
}

func (h *Handler) serveState(w http.ResponseWriter, r *http.Request) {
	_, ar, err := h.request(r)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		e := pages.APIErrorOf(err)
		w.WriteHeader(statusCode(e.Code))
		_ = json.NewEncoder(w).Encode(e)
		return
	}
	s := state{Phase: ar.Status.Phase, Message: ar.Status.Message}
	if ar.Status.ExpiresAt != nil {
		s.ExpiresAt = ar.Status.ExpiresAt.UTC().Format(time.RFC3339)
	}
	_ = json.NewEncoder(w).Encode(s)
}

func statusCode(code int32) int {
	if code < 400 || code > 599 {
		return http.StatusBadGateway
	}
	return int(code)
}

// listPods fills in the pod picker, as the person: the API decides whether
// they may list (the requester of an Active request only).
func (h *Handler) listPods(r *http.Request, id signin.Identity, v *pageView) {
	c, err := h.clients(id)
	if err != nil {
		v.PodsError = pages.APIErrorOf(err)
		return
	}
	list, err := targetreads.Pods(r.Context(), c.Janus.JanusV1alpha1(), v.Name, &v1alpha1.AccessRequestPodsOptions{Namespace: v.Namespace})
	if err != nil {
		v.PodsError = pages.APIErrorOf(err)
		return
	}
	now := time.Now()
	for _, p := range list.Items {
		pv := podView{Name: p.Name, Status: p.Status, Ready: p.Ready, Restarts: p.Restarts, Age: pages.Relative(p.CreatedAt.Time, now)}
		for _, ct := range p.Containers {
			pv.Containers = append(pv.Containers, ct.Name)
		}
		v.Pods = append(v.Pods, pv)
	}
	v.Truncated = list.Truncated
}

// quickCommands are the Cluster's shared commands, read as the person;
// none when they may not read the Cluster.
func (h *Handler) quickCommands(r *http.Request, id signin.Identity, cluster string) []v1alpha1.QuickCommand {
	c, err := h.clients(id)
	if err != nil {
		return nil
	}
	cl, err := c.Janus.JanusV1alpha1().Clusters().Get(r.Context(), cluster, metav1.GetOptions{})
	if err != nil {
		klog.V(2).InfoS("Reading the Cluster's quick commands", "user", id.Username, "cluster", cluster, "err", err)
		return nil
	}
	return cl.Spec.Console.QuickCommands
}
