package pages

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
	"github.com/infroware/janus/pkg/console/kubeclient"
	"github.com/infroware/janus/pkg/console/signin"
)

// asciicastType is what the recording and follow subresources answer with.
const asciicastType = "application/x-asciicast"

// sessionView is one exec session as the pages show it.
type sessionView struct {
	ID, Request, Cluster, User, Pod, Container, Command, EndReason string
	Phase                                                          v1alpha1.SessionPhase
	TTY                                                            bool
	StartedAt, EndedAt                                             time.Time
	Duration                                                       string
	BytesIn, BytesOut                                              int64
	// Recorded says the session has a recording; Size and SHA256 are its
	// document's, the digest only once the recording is closed.
	Recorded bool
	Format   string
	Size     int64
	SHA256   string
	// CanFollow offers Watch and Terminate: the session is open and the
	// person may approve for its cluster (the API decides again).
	CanFollow bool
}

func sessionViewOf(s *v1alpha1.Session, now time.Time) sessionView {
	v := sessionView{
		ID: s.Name, Request: s.Spec.Request, Cluster: s.Spec.Cluster, User: s.Spec.User.Username,
		Pod: s.Spec.Namespace + "/" + s.Spec.Pod, Container: s.Spec.Container,
		Command: strings.Join(s.Spec.Command, " "), TTY: s.Spec.TTY,
		Phase: s.Status.Phase, EndReason: s.Status.EndReason,
		StartedAt: timeOf(s.Status.StartedAt), EndedAt: timeOf(s.Status.EndedAt),
		BytesIn: s.Status.BytesIn, BytesOut: s.Status.BytesOut,
	}
	if v.Phase == "" {
		v.Phase = v1alpha1.SessionOpen
	}
	if !v.StartedAt.IsZero() {
		end := v.EndedAt
		if end.IsZero() {
			end = now
		}
		v.Duration = shortDuration(end.Sub(v.StartedAt).Round(time.Second))
	}
	if rec := s.Status.Recording; rec != nil {
		v.Recorded, v.Format, v.Size, v.SHA256 = true, rec.Format, rec.Size, rec.SHA256
	}
	return v
}

// sortSessionsNewestFirst orders sessions by when they were created.
func sortSessionsNewestFirst(items []v1alpha1.Session) {
	slices.SortFunc(items, func(a, b v1alpha1.Session) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
}

// sessionFilters are the session list's query parameters and the field
// each selects on.
var sessionFilters = []struct{ param, field string }{
	{"request", v1alpha1.FieldSessionRequest},
	{"cluster", v1alpha1.FieldCluster},
	{"user", v1alpha1.FieldSessionUsername},
	{"phase", v1alpha1.FieldPhase},
}

// sessionList is what sessions.html shows.
type sessionList struct {
	Sessions []sessionView
	// Filter says in words what the list is limited to.
	Filter string
}

// sessions lists the Sessions the person may list, newest first,
// narrowed by ?request=, ?cluster=, ?user= and ?phase=.
func (h *Handler) sessions(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	set := fields.Set{}
	var filter []string
	for _, f := range sessionFilters {
		if v := q.Get(f.param); v != "" {
			set[f.field] = v
			filter = append(filter, f.param+" "+v)
		}
	}
	p := page{Title: "Sessions", Nav: "sessions", User: id}
	list, err := c.Janus.JanusV1alpha1().Sessions().List(r.Context(), metav1.ListOptions{FieldSelector: fields.SelectorFromSet(set).String()})
	if err != nil {
		p.APIError = APIErrorOf(err)
		p.Data = sessionList{Filter: strings.Join(filter, ", ")}
		h.r.render(w, statusOf(p.APIError), "sessions", p)
		return
	}
	sortSessionsNewestFirst(list.Items)
	d := newDeciding(r.Context(), c, id)
	data := sessionList{Filter: strings.Join(filter, ", ")}
	for i := range list.Items {
		v := sessionViewOf(&list.Items[i], h.now())
		v.CanFollow = v.Phase == v1alpha1.SessionOpen && d.mayDecide(v.Cluster)
		data.Sessions = append(data.Sessions, v)
	}
	p.Data = data
	h.r.render(w, http.StatusOK, "sessions", p)
}

// openSessions are the Open sessions the person may watch, for the
// Approvals page: those of the clusters d may decide for. The error is
// the API's when it would not list them.
func openSessions(ctx context.Context, c *kubeclient.Clients, d *deciding, now time.Time) ([]sessionView, *APIError) {
	list, err := c.Janus.JanusV1alpha1().Sessions().List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector(v1alpha1.FieldPhase, string(v1alpha1.SessionOpen)).String(),
	})
	if err != nil {
		return nil, APIErrorOf(err)
	}
	sortSessionsNewestFirst(list.Items)
	var views []sessionView
	for i := range list.Items {
		if !d.mayDecide(list.Items[i].Spec.Cluster) {
			continue
		}
		v := sessionViewOf(&list.Items[i], now)
		v.CanFollow = true
		views = append(views, v)
	}
	return views, nil
}

// replayView is what replay.html shows.
type replayView struct {
	sessionView
	// Recording is where the page's script fetches the recording from.
	Recording string
}

// sessionPage reads the Session a session page shows, as the person, and
// whether they may watch and terminate it (the API decides again); on an
// error it has shown the API's answer, with a link back.
func (h *Handler) sessionPage(w http.ResponseWriter, r *http.Request, back string) (signin.Identity, *v1alpha1.Session, sessionView, bool) {
	id, c, ok := h.person(w, r)
	if !ok {
		return id, nil, sessionView{}, false
	}
	name := r.PathValue("name")
	s, err := c.Janus.JanusV1alpha1().Sessions().Get(r.Context(), name, metav1.GetOptions{})
	if err != nil {
		h.r.renderAPIError(w, id, "Session "+name, back, err)
		return id, nil, sessionView{}, false
	}
	v := sessionViewOf(s, h.now())
	v.CanFollow = v.Phase == v1alpha1.SessionOpen && newDeciding(r.Context(), c, id).mayDecide(v.Cluster)
	return id, s, v, true
}

// replay shows one Session and plays its recording, which the page's
// script fetches from /sessions/{name}/recording (as the person).
func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	id, s, sv, ok := h.sessionPage(w, r, "/sessions")
	if !ok {
		return
	}
	v := replayView{sessionView: sv, Recording: "/sessions/" + url.PathEscape(s.Name) + "/recording"}
	p := page{Title: "Session " + s.Name, User: id, Data: v}
	if r.URL.Query().Get("terminated") != "" {
		p.Notice = "You terminated this session; " + s.Spec.User.Username + "'s terminal shows your reason."
	}
	allowWebAssembly(w)
	h.r.render(w, http.StatusOK, "replay", p)
}

// allowWebAssembly lets this one page compile WebAssembly, which
// asciinema-player's terminal emulator is written in: the console's policy
// with 'wasm-unsafe-eval' added to script-src. It allows no JavaScript eval
// and no inline script; every other page keeps the policy as it is.
func allowWebAssembly(w http.ResponseWriter) {
	const scriptSrc = "script-src 'self'"
	if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, scriptSrc) {
		w.Header().Set("Content-Security-Policy", strings.Replace(csp, scriptSrc, scriptSrc+" 'wasm-unsafe-eval'", 1))
	}
}

// sessionState is what the follow page asks when its stream ends.
type sessionState struct {
	Phase     v1alpha1.SessionPhase `json:"phase"`
	EndedAt   string                `json:"endedAt,omitempty"`
	EndReason string                `json:"endReason,omitempty"`
}

func (h *Handler) sessionState(w http.ResponseWriter, r *http.Request) {
	_, c, ok := h.person(w, r)
	if !ok {
		return
	}
	s, err := c.Janus.JanusV1alpha1().Sessions().Get(r.Context(), r.PathValue("name"), metav1.GetOptions{})
	if err != nil {
		writeAPIError(w, APIErrorOf(err))
		return
	}
	st := sessionState{Phase: s.Status.Phase, EndReason: s.Status.EndReason}
	if st.Phase == "" {
		st.Phase = v1alpha1.SessionOpen
	}
	if s.Status.EndedAt != nil {
		st.EndedAt = s.Status.EndedAt.UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}

// recording streams sessions/NAME/recording, read as the person.
func (h *Handler) recording(w http.ResponseWriter, r *http.Request) {
	h.relaySubresource(w, r, "recording", 0)
}

// relaySubresource streams GET sessions/NAME/<sub> as the person to the
// browser as it comes, line by line, for at most limit (none when 0). A
// refusal is the API's Status as JSON, with its code.
func (h *Handler) relaySubresource(w http.ResponseWriter, r *http.Request, sub string, limit time.Duration) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	ctx := r.Context()
	if limit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	// The API negotiates only its own serializations: the request asks for
	// JSON (for a refusal's Status) and the stream comes as asciicast.
	stream, err := c.Janus.JanusV1alpha1().RESTClient().Get().
		Resource("sessions").Name(name).SubResource(sub).Stream(ctx)
	if err != nil {
		writeAPIError(w, APIErrorOf(err))
		return
	}
	defer stream.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", asciicastType)
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			if err != io.EOF {
				klog.V(2).InfoS("Session stream ended", "user", id.Username, "session", name, "subresource", sub, "bytes", sent, "err", err)
			}
			return
		}
	}
}

// writeAPIError answers a script's fetch with the API's error as JSON.
func writeAPIError(w http.ResponseWriter, e *APIError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(statusOf(e))
	_ = json.NewEncoder(w).Encode(e)
}

// statusOf is the HTTP status a page answers with for e.
func statusOf(e *APIError) int {
	if e.Code < 400 || e.Code > 599 {
		return http.StatusBadGateway
	}
	return int(e.Code)
}

// addSessionPages parses the session pages on the shared layout, decision
// forms and functions: each a copy of the error page's set with its own
// content.
func (r *renderer) addSessionPages(files fs.FS) error {
	for _, name := range []string{"sessions", "replay", "follow"} {
		t, err := r.pages["error"].Clone()
		if err != nil {
			return fmt.Errorf("copying the page layout for %s: %w", name, err)
		}
		if t, err = t.ParseFS(files, "templates/"+name+".html"); err != nil {
			return fmt.Errorf("parsing template %s: %w", name, err)
		}
		r.pages[name] = t
	}
	return nil
}
