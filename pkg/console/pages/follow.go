package pages

import (
	"net/http"
	"net/url"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"

	"github.com/infroware/janus/pkg/apis/janus/v1alpha1"
)

// maxFollow is how long one follow stream lasts before the page asks
// again, passing sign-in and the API's gate again.
const maxFollow = 15 * time.Minute

// followView is what follow.html shows.
type followView struct {
	sessionView
	// Stream and State are where the page's script reads the live output
	// and, once it ends, how the session ended.
	Stream, State string
}

// follow shows an open session's output live, read-only, with a way to
// terminate it. The page's script reads /sessions/{name}/follow/stream.
func (h *Handler) follow(w http.ResponseWriter, r *http.Request) {
	// Terminate is offered to those who may approve for the cluster; the
	// stream itself tells anyone else the API's answer.
	id, s, sv, ok := h.sessionPage(w, r, "/approvals")
	if !ok {
		return
	}
	base := "/sessions/" + url.PathEscape(s.Name)
	v := followView{sessionView: sv, Stream: base + "/follow/stream", State: base + "/state"}
	h.r.render(w, http.StatusOK, "follow", page{Title: "Watching " + s.Name, User: id, Data: v})
}

// followStream streams sessions/NAME/follow as the person: the header,
// the recent output, then the session's events as they happen.
func (h *Handler) followStream(w http.ResponseWriter, r *http.Request) {
	h.relaySubresource(w, r, "attach", maxFollow)
}

// terminate cuts a session with the person's reason, which the API
// requires and shows on the session's terminal.
func (h *Handler) terminate(w http.ResponseWriter, r *http.Request) {
	id, c, ok := h.person(w, r)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot read the form", http.StatusBadRequest)
		return
	}
	base := "/sessions/" + url.PathEscape(name)
	_, err := c.Janus.JanusV1alpha1().Sessions().Terminate(r.Context(), name, &v1alpha1.SessionTermination{Reason: r.PostForm.Get("reason")}, metav1.CreateOptions{})
	if err != nil {
		h.r.renderAPIError(w, id, "Terminating "+name+" failed", base+"/follow", err)
		return
	}
	klog.InfoS("Session terminated", "user", id.Username, "session", name)
	http.Redirect(w, r, base+"?terminated=1", http.StatusSeeOther)
}
